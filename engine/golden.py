"""Golden files: shipped sessions and the projections they must replay to.

``replays/<name>/session.tape`` is the recorded session; ``replays/<name>/expected.json`` holds
its chain head and, at several checkpoints, the digest and the full projection view (sorted
JSON with exact integers, readable in a diff). ``check`` replays the tape through ``evolve`` and
compares; ``update`` rewrites ``expected.json`` from the tape.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec

from events.errors import BadInput
from events.tape import iter_tape
from events.types import EventBase
from projections import initial_state, view

from .audit.compare import differences, format_differences
from .replay import Seek, tape_batches

REPLAYS = Path(__file__).resolve().parent.parent / "replays"
CHECKPOINTS = (0.25, 0.5, 0.75, 1.0)
_json = msgspec.json.Encoder(order="sorted")


def sessions(root: Path = REPLAYS, names: list[str] | None = None) -> list[Path]:
    found = sorted(p.parent for p in root.glob("*/session.tape"))
    if names:
        by_name = {p.name: p for p in found}
        missing = [n for n in names if n not in by_name]
        if missing:
            raise BadInput(f"no golden session named {', '.join(missing)} in {root}")
        return [by_name[n] for n in names]
    return found


def checkpoints(tape: Path, seqs: list[int]) -> Iterator[tuple[int, dict[str, Any]]]:
    """Fold a .tape through ``evolve``; yield (seq, view) at each checkpoint seq."""
    state = initial_state()
    batches = tape_batches(tape)
    pending: list[EventBase] = []
    for mark in sorted(set(seqs)):
        seek = Seek(state, until_seq=mark)
        more = True
        while more:
            batch: list[EventBase] | None = pending or next(batches, None)
            if batch is None:
                break
            before = state.seq
            more = seek.fold(batch)
            pending = batch[state.seq - before :] if not more else []
        yield mark, view(state)


def expected_for(tape: Path) -> dict[str, Any]:
    header, _ = iter_tape(tape)
    n = header.events
    seqs = sorted({max(1, int(n * f)) for f in CHECKPOINTS})
    return {
        "session": header.session,
        "events": n,
        "head_hash": header.head_hash.hex(),
        "checkpoints": [{"seq": s, "digest": v["digest"], "projections": v} for s, v in checkpoints(tape, seqs)],
    }


def encode_expected(expected: dict[str, Any]) -> bytes:
    return msgspec.json.format(_json.encode(expected), indent=1) + b"\n"


def check(directory: Path) -> list[str]:
    """Problems found (empty when the session still replays to its golden outputs)."""
    path = directory / "expected.json"
    if not path.exists():
        return [f"{path}: missing (run `tradetape golden update`)"]
    expected = msgspec.json.decode(path.read_bytes())
    # compare what would be written, not Python objects (tuples there, lists in the file)
    actual = msgspec.json.decode(encode_expected(expected_for(directory / "session.tape")))
    problems = []
    for key in ("session", "events", "head_hash"):
        if expected.get(key) != actual[key]:
            problems.append(f"{key}: expected {expected.get(key)!r}, got {actual[key]!r}")
    exp_cp = {c["seq"]: c for c in expected.get("checkpoints", [])}
    for cp in actual["checkpoints"]:
        want = exp_cp.get(cp["seq"])
        if want is None:
            problems.append(f"checkpoint seq {cp['seq']}: not in expected.json")
            continue
        if want["digest"] == cp["digest"] and want["projections"] == cp["projections"]:
            continue
        diffs = differences(want["projections"], cp["projections"])
        problems.append(f"checkpoint seq {cp['seq']}: digest {want['digest'][:12]} -> {cp['digest'][:12]}")
        problems.extend(format_differences(diffs, "expected", "got"))
    return problems


def update(directory: Path) -> bool:
    """Rewrite expected.json; True if it changed."""
    path = directory / "expected.json"
    data = encode_expected(expected_for(directory / "session.tape"))
    old = path.read_bytes() if path.exists() else b""
    if old == data:
        return False
    path.write_bytes(data)
    return True
