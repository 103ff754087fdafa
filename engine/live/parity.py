"""The parity certificate, and the rebuild that ``paper --resume`` starts from.

A live session is re-simulated from its own recorded market events through a fresh core and
the policy its session-started event names (same seed, fees, latency, starting cash), in the
same ``Stepper`` loop the live driver ran. If live trading did what re-simulation does, the
two logs are identical event for event (``events.compare``: the one rule ``audit diff`` and
``paper --resume`` use too); ``audit parity`` proves it (exit 0) or names the first seq where
they differ (exit 1).
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from events.compare import first_divergence
from events.errors import BadInput, InvariantError
from events.types import MARKET_EVENTS, EventBase, SessionEnded, SessionStarted, tag_of
from projections import digest, evolve_many, initial_state

from ..sim.config import from_entries
from ..sim.core import SimCore
from ..sim.policies import Policy
from ..sim.sink import Events
from ..sim.stepper import Stepper
from .policy_spec import policy_of

_MARKET = frozenset(MARKET_EVENTS)


class Rebuilt:
    """A core, stepper and policy in the state the live driver had after the recorded market
    events; ``log`` is every event that state implies, in order."""

    def __init__(self, started: SessionStarted, policy: Policy, core: SimCore, stepper: Stepper[Events],
                 log: list[EventBase]) -> None:
        self.started, self.policy, self.core, self.stepper, self.log = started, policy, core, stepper, log


def rebuild(recorded: Sequence[EventBase], *, finish: bool) -> Rebuilt:
    started = recorded[0]
    if not isinstance(started, SessionStarted) or started.mode not in ("paper", "record"):
        raise BadInput("not a live session: parity applies to sessions written by paper or record")
    policy = policy_of(started)
    core = SimCore(from_entries(started.config), policy.name)
    core.fold([started])
    stepper = Stepper.for_policy(core, policy, Events())
    market = [e for e in recorded if type(e) in _MARKET]
    stepper.feed(market, range(1, len(market) + 1))
    stepper.drive(policy)
    if finish:
        stepper.finish()
    log: list[EventBase] = [started, *stepper.out]
    stepper.out.clear()
    if finish and isinstance(recorded[-1], SessionEnded):
        ended = recorded[-1]  # its time and reason are the driver's input, like the market events
        core.fold([ended])
        log.append(ended)
    return Rebuilt(started, policy, core, stepper, log)


class ParityReport(msgspec.Struct, kw_only=True):
    session: str
    policy: str
    events: int
    identical: bool
    first_divergence_seq: int | None = None
    recorded: str | None = None  # the recorded event there (JSON)
    resimulated: str | None = None  # what re-simulation produced there (JSON)
    digest_recorded: str = ""
    digest_resimulated: str = ""
    ended: bool = True


def certify(name: str, recorded: Sequence[EventBase]) -> ParityReport:
    if not recorded:
        raise BadInput(f"session {name!r} is empty")
    ended = isinstance(recorded[-1], SessionEnded)
    r = rebuild(recorded, finish=ended)
    try:
        recorded_digest = digest(evolve_many(initial_state(), recorded))
    except InvariantError as exc:  # a log that does not even replay
        recorded_digest = f"does not replay: {exc}"
    out = ParityReport(session=name, policy=r.policy.name, events=len(recorded), identical=True,
                       digest_recorded=recorded_digest, digest_resimulated=digest(r.core.state), ended=ended)
    seq = first_divergence(recorded, implied(r, recorded, ended=ended))
    if seq is not None:
        out.identical = False
        out.first_divergence_seq = seq
        out.recorded = _show(_at(recorded, seq))
        out.resimulated = _show(_at(r.log, seq))
    if ended and out.identical and out.digest_recorded != out.digest_resimulated:
        out.identical = False  # cannot happen with identical events; checked all the same
    return out


def implied(r: Rebuilt, recorded: Sequence[EventBase], *, ended: bool) -> Sequence[EventBase]:
    """What the recorded log must equal (``events.compare``'s rule): the whole re-simulation
    of an ended session; of one cut off (a crash, a session still running), only as much as
    was recorded, since what the re-simulation implies past the cut was never written yet."""
    return r.log if ended else r.log[: len(recorded)]


def _at(log: Sequence[EventBase], seq: int) -> EventBase | None:
    return log[seq - 1] if seq <= len(log) else None


def _show(e: EventBase | None) -> str | None:
    if e is None:
        return None
    return f"{tag_of(type(e))} {msgspec.json.encode(e).decode()}"
