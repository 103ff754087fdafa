"""Which policy a live session runs, written into its session-started event so that
``audit parity`` and ``paper --resume`` rebuild exactly the same one (``engine.strategy.spec``,
shared with ``simulate`` and ``evaluate``).

Live policies decide on a clock in event time or market events (the rule training uses);
``script:`` policies address source seqs of a recorded session and have no meaning live.
"""

from __future__ import annotations

from collections.abc import Mapping

from events.types import SessionStarted

from ..sim.strategy import Policy
from ..strategy.spec import rebuild, resolve


def make_live_policy(spec: str, seed: int, every: int, markets: tuple[str, ...],
                     params: Mapping[str, str] | None = None) -> tuple[Policy, dict[str, str]]:
    """(policy, the config entries that name it)."""
    return resolve(spec, seed=seed, every=every, markets=markets, params=params, live=True)


def policy_of(started: SessionStarted) -> Policy:
    """The policy a live session recorded, rebuilt (a model or strategy file must still match
    its hash)."""
    return rebuild(started.config, started.seed or 0, started.session)
