"""Which policy a live session runs, written into its session-started event so that
``audit parity`` and ``paper --resume`` rebuild exactly the same one.

Live policies decide on a clock in event time or market events (the rule training uses);
``script:`` policies address source seqs of a recorded session and have no meaning live.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from events.errors import BadInput
from events.types import SessionStarted

from ..sim.policies import Hold, Policy, RandomPolicy
from ..sim.stepper import Clock


def make_live_policy(spec: str, seed: int, every: int, markets: tuple[str, ...]) -> tuple[Policy, dict[str, str]]:
    """(policy, the config entries that name it)."""
    if spec == "hold":
        return Hold(), {"policy_spec": "hold"}
    if spec == "random":
        return RandomPolicy(seed, clock=Clock(every_events=every)), {"policy_spec": "random", "every": str(every)}
    if spec.endswith(".zip"):
        from ..rl.agent import model_policy

        if len(markets) != 1:
            raise BadInput("--policy MODEL.zip trades one market: give exactly one in --markets")
        path = Path(spec)
        policy = model_policy(path, markets[0])
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        return policy, {"policy_spec": "model", "model": str(path.resolve()), "model_sha256": digest,
                        "market": markets[0]}
    raise BadInput(f"--policy {spec!r}: live trading takes hold, random or a MODEL.zip from train")


def policy_of(started: SessionStarted) -> Policy:
    """The policy a live session recorded, rebuilt (a model file must still match its hash)."""
    c = started.config
    spec = c.get("policy_spec", "hold")
    seed = started.seed or 0
    if spec == "hold":
        return Hold()
    if spec == "random":
        return RandomPolicy(seed, clock=Clock(every_events=int(c["every"])))
    if spec == "model":
        path = Path(c["model"])
        if not path.is_file():
            raise BadInput(f"the session's model {path} is gone: parity needs the file it traded with")
        if hashlib.sha256(path.read_bytes()).hexdigest() != c["model_sha256"]:
            raise BadInput(f"{path} is not the model the session traded with (its SHA-256 differs)")
        from ..rl.agent import model_policy

        return model_policy(path, c["market"])
    raise BadInput(f"session {started.session!r} names an unknown policy {spec!r}")
