"""``--policy SPEC``: one parser for every command that runs a policy (``simulate``,
``evaluate``, ``paper``, ``trade``), and the record of it in the session-started event from which
``audit parity`` and ``--resume`` rebuild the very same policy.

SPEC is one of:

* ``hold``;
* ``random``: seeded; in ``simulate`` every ``--every`` source events, live every ``--every``
  market events (a clock in event count);
* ``script:FILE``: JSONL commands by source seq (``simulate`` only: seqs mean nothing live);
* ``MODEL.zip``: a model from ``train``, trading every market given (none given: every market
  with a book) on its own clock, never sending an action its mask forbids;
* ``path/to/file.py:Class`` or ``package.module:Class``: your own ``Strategy`` (a module is
  imported with the working directory on ``sys.path``), built as ``Class(seed=, markets=,
  params=)``. The file's SHA-256 is recorded; rebuilding refuses a file that has changed since.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType

from events.errors import BadInput

from ..sim.clock import Clock
from ..sim.policies import Hold, RandomPolicy, ScriptPolicy
from ..sim.strategy import Policy

SPEC_HELP = ("hold | random | script:FILE (simulate) | MODEL.zip (from train) | FILE.py:Class or "
             "package.module:Class (your Strategy)")


def is_strategy(spec: str) -> bool:
    """``X:Y`` that is not ``script:FILE`` nor a model path (which may hold a colon)."""
    where, sep, name = spec.rpartition(":")
    return bool(sep and where and name) and not spec.startswith("script:") and not spec.endswith(".zip")


def kind_of(spec: str) -> str:
    """A short label for names: hold, random, script, model, or the strategy's class name."""
    if spec.endswith(".zip"):
        return "model"
    if is_strategy(spec):
        return spec.rpartition(":")[2].lower()
    return spec.split(":", 1)[0]


def resolve(spec: str, *, seed: int, every: int, markets: tuple[str, ...] = (),
            params: Mapping[str, str] | None = None, live: bool = False) -> tuple[Policy, dict[str, str]]:
    """(policy, the config entries that name it, for the session-started event)."""
    params = dict(params or {})
    markets = tuple(sorted(set(markets)))  # the order given must not matter (resume compares sorted sets)
    if params and not is_strategy(spec):
        raise BadInput(f"--policy-arg applies to a strategy class (FILE.py:Class), not to --policy {spec}")
    if spec == "hold":
        return Hold(), {"policy_spec": "hold"}
    if spec == "random":
        if live:
            return RandomPolicy(seed, clock=Clock(every_events=every)), {"policy_spec": "random", "every": str(every)}
        return RandomPolicy(seed, every), {"policy_spec": "random", "every": str(every)}
    if spec.startswith("script:"):
        if live:
            raise BadInput(f"--policy {spec}: a script addresses source seqs of a recorded session; live trading "
                           "takes hold, random, a MODEL.zip or a strategy class")
        return ScriptPolicy(Path(spec[len("script:"):])), {"policy_spec": "script", "script": spec[len("script:"):]}
    if spec.endswith(".zip"):
        from ..rl.agent import model_policy

        path = Path(spec)
        return model_policy(path, markets), {"policy_spec": "model", "model": str(path.resolve()), "model_sha256": _sha(path),
                        "markets": ",".join(markets)}
    if is_strategy(spec):
        built, source = build_strategy(spec, seed=seed, markets=markets, params=params)
        return built, {"policy_spec": "python", "strategy": spec, "strategy_file": str(source),
                        "strategy_sha256": _sha(source), "strategy_params": json.dumps(params, sort_keys=True),
                        "markets": ",".join(markets)}
    raise BadInput(f"--policy {spec!r}: use {SPEC_HELP}")


def rebuild(config: Mapping[str, str], seed: int, session: str) -> Policy:
    """The policy a session recorded (``resolve``'s entries), rebuilt; a model or strategy file
    must still be the one the session ran (its SHA-256)."""
    spec = config.get("policy_spec", "hold")
    markets = tuple(m for m in config.get("markets", config.get("market", "")).split(",") if m)
    if spec == "hold":
        return Hold()
    if spec == "random":
        return RandomPolicy(seed, clock=Clock(every_events=int(config["every"])))
    if spec == "model":
        path = Path(config["model"])
        _same(path, config["model_sha256"], "model")
        from ..rl.agent import model_policy

        return model_policy(path, markets)
    if spec == "python":
        source = Path(config["strategy_file"])
        _same(source, config["strategy_sha256"], "strategy")
        where, _, cls = config["strategy"].rpartition(":")
        # the very file whose hash was checked: a file by its path, a module by its name from
        # the recorded file's package root (and then checked to be that file)
        target = f"{source}:{cls}" if _is_file(where) else config["strategy"]
        root = None if _is_file(where) else _package_root(source, where)
        policy, loaded = build_strategy(target, seed=seed, markets=markets,
                                        params=json.loads(config.get("strategy_params", "{}")), root=root)
        if loaded != source.resolve():
            raise BadInput(f"module {where} is now {loaded}, not the strategy the session traded with ({source})")
        return policy
    raise BadInput(f"session {session!r} names an unknown policy {spec!r}")


def build_strategy(target: str, *, seed: int, markets: tuple[str, ...], params: Mapping[str, str],
                   root: Path | None = None) -> tuple[Policy, Path]:
    """``Class(seed=, markets=, params=)`` from ``FILE.py:Class`` or ``module:Class`` (imported
    from ``root`` when given, else the working directory), and the file it came from."""
    where, _, name = target.rpartition(":")
    module = _load_file(Path(where)) if _is_file(where) else _load_module(where, root or Path.cwd())
    cls = getattr(module, name, None)
    if not isinstance(cls, type):
        raise BadInput(f"--policy {target}: {where} has no class {name!r}")
    try:
        policy = cls(seed=seed, markets=markets, params=dict(params))
    except Exception as exc:  # the user's constructor: any failure is theirs, said in one line
        raise BadInput(f"--policy {target}: {name}(seed=, markets=, params=) failed: {type(exc).__name__}: {exc}") \
            from None
    if not isinstance(policy, Policy):
        missing = [m for m in ("name", "clock", "wants_events", "next_after", "on_event", "act", "check")
                   if not hasattr(policy, m)]
        raise BadInput(f"--policy {target}: {name} is not a strategy (missing {', '.join(missing)}); "
                       "subclass engine.strategy.Strategy")
    source = getattr(module, "__file__", None)
    if source is None:
        raise BadInput(f"--policy {target}: {where} has no source file to record")
    return policy, Path(source).resolve()


def _is_file(where: str) -> bool:
    return where.endswith(".py") or os.sep in where


def _package_root(source: Path, module: str) -> Path:
    """The directory ``module`` (dotted) is imported from, given the file it resolved to."""
    up = module.count(".") + (1 if source.name == "__init__.py" else 0)
    return source.resolve().parents[up]


def _on_path(directory: Path) -> None:
    """First on ``sys.path``: the user's module wins over an installed one of the same name."""
    d = str(directory.resolve())
    if d in sys.path:
        sys.path.remove(d)
    sys.path.insert(0, d)


def _load_file(path: Path) -> ModuleType:
    """A strategy file, with its own directory on the path (its sibling modules import; only
    the file itself is hashed and checked on rebuild)."""
    if not path.is_file():
        raise BadInput(f"--policy {path}: no such file")
    _on_path(path.parent)
    digest = _sha(path)
    mod_name = f"tradetape_strategy_{path.stem}_{digest[:12]}"
    if mod_name in sys.modules:
        return sys.modules[mod_name]
    spec = importlib.util.spec_from_file_location(mod_name, path)
    if spec is None or spec.loader is None:
        raise BadInput(f"--policy {path}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[mod_name] = module  # dataclasses and pickling look a class's module up here
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[mod_name]
        raise BadInput(f"--policy {path}: importing it failed: {type(exc).__name__}: {exc}") from None
    return module


def _load_module(name: str, root: Path) -> ModuleType:
    _on_path(root)
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise BadInput(f"--policy {name}: cannot import it: {exc}") from None
    except Exception as exc:
        raise BadInput(f"--policy {name}: importing it failed: {type(exc).__name__}: {exc}") from None


def _same(path: Path, sha: str, what: str) -> None:
    if not path.is_file():
        raise BadInput(f"the session's {what} {path} is gone: rebuilding needs the file it traded with")
    if _sha(path) != sha:
        raise BadInput(f"{path} is not the {what} the session traded with (its SHA-256 differs)")


def _sha(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as exc:
        raise BadInput(f"{path}: cannot read it: {exc.strerror or exc}") from None
