"""A sweep's grid: sessions × policies × seeds × settings (fees, latency, queue model), and its
cells, each with a fixed identity.

A cell's *key* is the canonical JSON (sorted keys, no spaces) of what decides its result: the
source session, the policy spec and its ``--policy-arg`` parameters (a strategy's only), the
seed, ``every``, the latency in ns, the queue model, the fee table's content (not its file name,
so the same table read on another machine is the same cell) and the starting cash in money
units (null: the source's). The session a cell writes is ``SWEEP/<first 12 hex of the key's
SHA-256>``: the same name wherever and however often the cell runs, which is what makes a
result exactly-once (``engine.sweep.cell``). The full hex digest is the cell's message id on
NATS, so a re-enqueued cell is deduplicated.

Grid input (flags or a TOML/JSON file, flags replacing the file's axis) is checked whole
before anything is written: a bad value is one ``BadInput`` line (exit 2).
"""

from __future__ import annotations

import hashlib
import json
import math
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from itertools import product
from pathlib import Path
from typing import Any

import msgspec

from events.errors import BadInput
from events.names import MAX_SESSION_NAME, check_session_name
from events.units import parse_money

from ..sim.config import ExchangeConfig
from ..sim.fees import DEFAULT_TABLE, FeeTable, load_fee_table
from ..sim.job import SimJob

HASH_CHARS = 12
MAX_CELLS = 100_000
DEFAULT_FEES = "default"
GRID_KEYS = ("name", "sessions", "policies", "policy_args", "seeds", "latency_ms", "queue", "fees", "every", "cash")


class Cell(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One simulate of a grid. ``fees`` is the label shown (``default`` or the file as given);
    ``fee_table`` what runs. ``cash`` in money units (None: the source session's own)."""

    sweep: str
    source: str
    policy: str
    policy_args: dict[str, str] = msgspec.field(default_factory=dict)
    seed: int
    every: int = 10
    latency_ns: int = 0
    queue: str = "risk_averse"
    fees: str = DEFAULT_FEES
    fee_table: FeeTable = DEFAULT_TABLE
    cash: int | None = None

    def key(self) -> str:
        return cell_key(self)

    def digest(self) -> str:
        return hashlib.sha256(self.key().encode()).hexdigest()

    def session(self) -> str:
        return f"{self.sweep}/{self.digest()[:HASH_CHARS]}"

    def job(self) -> SimJob:
        return SimJob(source=self.source, name=self.session(), policy=self.policy, policy_args=self.policy_args,
                      seed=self.seed, every=self.every, latency_ns=self.latency_ns, fees=self.fee_table,
                      queue=self.queue, cash=self.cash,
                      extra={"sweep": self.sweep, "sweep_cell": self.key(), "sweep_fees": self.fees})


def key_params(cell: Cell) -> dict[str, Any]:
    return {"source": cell.source, "policy": cell.policy, "policy_args": cell.policy_args, "seed": cell.seed,
            "every": cell.every, "latency_ns": cell.latency_ns, "queue": cell.queue,
            "fee_table": msgspec.to_builtins(cell.fee_table), "cash": cell.cash}


def cell_key(cell: Cell) -> str:
    return json.dumps(key_params(cell), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


_cell_json = msgspec.json.Encoder()
_cell_decoder = msgspec.json.Decoder(Cell)


def encode_cell(cell: Cell) -> bytes:
    return _cell_json.encode(cell)


def decode_cell(data: bytes) -> Cell:
    try:
        return _cell_decoder.decode(data)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise BadInput(f"not a sweep cell: {exc}") from None


class Grid(msgspec.Struct, frozen=True, kw_only=True):
    """The axes, each non-empty and checked; ``cells()`` is their product in a fixed order."""

    name: str
    sessions: tuple[str, ...]
    policies: tuple[str, ...]
    policy_args: dict[str, str]
    seeds: tuple[int, ...]
    latency_ms: tuple[float, ...]
    queues: tuple[str, ...]
    fees: tuple[tuple[str, FeeTable], ...]
    every: int
    cash: int | None

    def cells(self) -> list[Cell]:
        from ..strategy.spec import is_strategy

        out = [Cell(sweep=self.name, source=s, policy=p, policy_args=self.policy_args if is_strategy(p) else {},
                    seed=seed, every=self.every, latency_ns=round(lat * 1_000_000), queue=q, fees=label,
                    fee_table=table, cash=self.cash)
               for s, p, (label, table), lat, q, seed in product(self.sessions, self.policies, self.fees,
                                                                   self.latency_ms, self.queues, self.seeds)]
        seen: dict[str, Cell] = {}
        for c in out:  # two spellings of one cell (the same fee table in two files) run once
            seen.setdefault(c.digest(), c)
        return list(seen.values())


def split_list(values: Iterable[str]) -> list[str]:
    """Repeated flags and comma lists, flattened; empty items dropped."""
    return [v.strip() for item in values for v in str(item).split(",") if v.strip()]


def parse_seeds(values: Iterable[str | int], where: str = "--seeds") -> tuple[int, ...]:
    """``1-10``, ``3``, ``1,5,9`` (and repeats) to seeds in the order given, duplicates once."""
    out: list[int] = []
    for item in values:
        for part in [item] if isinstance(item, int) else split_list([item]):
            if isinstance(part, int):
                out.append(part)
                continue
            lo, dash, hi = part.partition("-") if not part.startswith("-") else ("", "", "")
            try:
                if dash:
                    a, b = int(lo), int(hi)
                    if a > b:
                        raise BadInput(f"{where} {part!r}: a range goes up (LO-HI)")
                    out.extend(range(a, b + 1))
                else:
                    out.append(int(part))
            except ValueError:
                raise BadInput(f"{where} {part!r}: a seed is an integer, a range LO-HI or a comma list of them") from None
    if any(s < 0 for s in out):
        raise BadInput(f"{where}: seeds are not negative")
    return tuple(dict.fromkeys(out))


def parse_latencies(values: Iterable[str | float | int], where: str = "--latency-ms") -> tuple[float, ...]:
    out: list[float] = []
    for item in values:
        for part in [item] if isinstance(item, int | float) else split_list([item]):
            try:
                v = float(part)
            except ValueError:
                raise BadInput(f"{where} {part!r}: a latency is a number of milliseconds") from None
            if not math.isfinite(v) or v < 0:
                raise BadInput(f"{where} {part!r}: a latency is a finite number, not negative")
            out.append(v)
    return tuple(dict.fromkeys(out))


def parse_queues(values: Iterable[str], where: str = "--queue") -> tuple[str, ...]:
    out = tuple(dict.fromkeys(split_list(values)))
    for q in out:
        try:
            ExchangeConfig(queue=q)
        except BadInput:
            raise BadInput(f"{where} {q!r}: risk_averse or prob:N, N in 1..4") from None
    return out


def parse_fees(values: Iterable[str], base: Path, where: str = "--fees") -> tuple[tuple[str, FeeTable], ...]:
    """``default`` or fee-schedule files (relative to ``base``: a grid file's folder)."""
    out: list[tuple[str, FeeTable]] = []
    for v in dict.fromkeys(split_list(values)):
        if v == DEFAULT_FEES:
            out.append((v, DEFAULT_TABLE))
            continue
        path = Path(v) if Path(v).is_absolute() else base / v
        if not path.is_file():
            raise BadInput(f"{where} {v!r}: no such fee file (or give {DEFAULT_FEES!r})")
        out.append((v, load_fee_table(path)))  # its errors name the file
    return tuple(out)


def read_grid_file(path: Path) -> dict[str, Any]:
    """A grid file: TOML (``.toml``) or JSON, one table whose keys are ``GRID_KEYS``."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise BadInput(f"--grid {path}: {exc.strerror or exc}") from None
    try:
        obj: Any = tomllib.loads(data.decode()) if path.suffix == ".toml" else json.loads(data)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        kind = "TOML" if path.suffix == ".toml" else "JSON"
        raise BadInput(f"--grid {path}: not valid {kind}: {str(exc).splitlines()[0]}") from None
    if not isinstance(obj, dict):
        raise BadInput(f"--grid {path}: the grid is a table of {', '.join(GRID_KEYS)}")
    unknown = sorted(set(obj) - set(GRID_KEYS))
    if unknown:
        raise BadInput(f"--grid {path}: unknown key {unknown[0]!r} (known: {', '.join(GRID_KEYS)})")
    return obj


def _list(v: Any, key: str, where: str) -> list[Any]:
    items = v if isinstance(v, list) else [v]
    if not all(isinstance(x, str | int | float) and not isinstance(x, bool) for x in items):
        raise BadInput(f"{where}: {key} is a string, a number or a list of them")
    return items


def build_grid(flags: Mapping[str, Any], file: Path | None = None) -> Grid:
    """The grid from ``flags`` (``GRID_KEYS`` to lists given on the command line, None or []
    where not given) over the grid file's values. Nothing is read but the files named."""
    spec: dict[str, Any] = {}
    base = Path(".")
    where: dict[str, str] = {}
    if file is not None:
        spec = read_grid_file(file)
        base = file.parent
        where = {k: f"--grid {file}: {k}" for k in spec}
    for k, v in flags.items():
        if v not in (None, [], ()):
            spec[k] = v
            where[k] = "--" + {"policies": "policy", "seeds": "seeds", "queue": "queue"}.get(k, k).replace("_", "-")
    w = where.get
    name = spec.get("name", "sweep")
    if not isinstance(name, str):
        raise BadInput(f"{w('name')}: the sweep name is a string")
    check_session_name(name, w("name", "--name"))
    room = MAX_SESSION_NAME - 1 - HASH_CHARS
    if len(name) > room:
        raise BadInput(f"{w('name', '--name')}: a sweep name is at most {room} characters (its cells are NAME/HASH)")
    missing = [k for k in ("sessions", "policies", "seeds") if not spec.get(k)]
    if missing:
        flag = {"sessions": "--sessions", "policies": "--policy", "seeds": "--seeds"}
        raise BadInput(f"a sweep needs {', '.join(flag[k] for k in missing)} (flags or a --grid file)")
    sessions = tuple(dict.fromkeys(split_list(map(str, _list(spec["sessions"], "sessions", w("sessions", ""))))))
    for s in sessions:
        check_session_name(s, w("sessions", "--sessions"))
    policies = tuple(dict.fromkeys(str(p).strip() for p in _list(spec["policies"], "policies", w("policies", ""))))
    if not all(policies):
        raise BadInput(f"{w('policies')}: an empty policy spec")
    policy_args = _policy_args(spec.get("policy_args", {}), w("policy_args", "--policy-arg"))
    seeds = parse_seeds(_list(spec["seeds"], "seeds", w("seeds", "")), w("seeds", "--seeds"))
    latency = parse_latencies(_list(spec.get("latency_ms", [0]), "latency_ms", w("latency_ms", "")),
                              w("latency_ms", "--latency-ms"))
    queues = parse_queues(map(str, _list(spec.get("queue", ["risk_averse"]), "queue", w("queue", ""))),
                          w("queue", "--queue"))
    fees = parse_fees(map(str, _list(spec.get("fees", [DEFAULT_FEES]), "fees", w("fees", ""))), base,
                      w("fees", "--fees"))
    every = spec.get("every", 10)
    if isinstance(every, list | bool) or not str(every).isdigit() or int(every) < 1:
        raise BadInput(f"{w('every', '--every')} {every!r}: one whole number of source events, at least 1")
    cash = spec.get("cash")
    cash_units = None if cash is None else parse_money(str(cash), w("cash", "--cash"))
    if not (latency and queues and fees):
        raise BadInput("every axis of a sweep needs at least one value")
    grid = Grid(name=name, sessions=sessions, policies=policies, policy_args=policy_args, seeds=seeds,
                latency_ms=latency, queues=queues, fees=fees, every=int(every), cash=cash_units)
    n = len(sessions) * len(policies) * len(seeds) * len(latency) * len(queues) * len(fees)
    if n > MAX_CELLS:
        raise BadInput(f"the grid has {n} cells, above the limit of {MAX_CELLS}")
    return grid


def _policy_args(v: Any, where: str) -> dict[str, str]:
    from ..cli.policy_flags import key_values

    if isinstance(v, dict):
        return {str(k): str(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return key_values([str(x) for x in v], where)
    raise BadInput(f"{where}: KEY=VALUE items or a table")


def check_policies(policies: Sequence[str], policy_args: Mapping[str, str], every: int) -> None:
    """Every spec resolves (a bad script, model or strategy fails here, before anything runs)."""
    from ..strategy.spec import is_strategy, resolve

    for p in policies:
        resolve(p, seed=0, every=every, params=policy_args if is_strategy(p) else {})
