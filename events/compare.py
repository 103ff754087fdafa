"""Where two event logs first differ: the one rule of ``audit diff``, ``audit parity`` and
``paper --resume``.

Two events are the same when their canonical encodings (``events.codec.encode``) are equal
once ``SessionStarted.session`` is blanked: a session's own name is what it is stored under,
not what happened in it, so a session and its copy or its re-run under another name compare
equal. Nothing else is exempt. ``mode``, ``config``, ``seed``, ``starting_cash`` and
``engine_version`` are content: two runs that differ there are different runs, and the place
to say so is seq 1.

(``audit parity`` and ``paper --resume`` used to skip seq 1 outright. Their second log is the
re-simulation ``engine.live.parity.rebuild`` builds, which starts with the recorded
session-started event itself, the same object, so seq 1 is equal under this rule: the skip
only hid nothing. ``paper --resume`` also stopped at the shorter log, so a recording with events
past the end of its re-simulation, which the driver could not have written, resumed from a
state without them; it is refused now, at that seq.)

The walk takes one event from each side per seq, starting at seq 1, and stops at the first
seq where the two differ or only one side has an event (one log a strict prefix of the other
diverges just past the shorter's end). Logs that end together with every pair the same do not
diverge. Pure: no I/O, nothing folded; the async walk is the same loop over async iterators,
for callers that stream two store reads.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from typing import TypeVar

import msgspec

from .codec import encode
from .types import EventBase, SessionStarted

E = TypeVar("E", bound=EventBase)


def content(e: EventBase) -> bytes:
    """The bytes two events are compared by: the canonical encoding, session name blanked."""
    if isinstance(e, SessionStarted):
        e = msgspec.structs.replace(e, session="")
    return encode(e)


def same(a: EventBase, b: EventBase) -> bool:
    """True when ``a`` and ``b`` are the same event under the module's rule."""
    return a is b or content(a) == content(b)


def diverges(a: EventBase | None, b: EventBase | None) -> bool:
    """True when the pair at one seq ends the walk: one side has no event there (both having
    none is the end, not a divergence) or the two are not ``same``."""
    if a is None or b is None:
        return a is not b
    return not same(a, b)


def first_divergence(a: Iterable[E], b: Iterable[E]) -> int | None:
    """The first seq (1-based) at which ``a`` and ``b`` differ, or None when they are the same
    event for event and of one length."""
    ia, ib = iter(a), iter(b)
    seq = 0
    while True:
        ea, eb = next(ia, None), next(ib, None)
        if ea is None and eb is None:
            return None
        seq += 1
        if diverges(ea, eb):
            return seq


async def afirst_divergence(a: AsyncIterator[E], b: AsyncIterator[E]) -> int | None:
    """``first_divergence`` over async iterators: one event is taken from each per seq, so at a
    divergence each has yielded exactly ``seq`` events (or all it had)."""
    seq = 0
    while True:
        ea, eb = await anext(a, None), await anext(b, None)
        if ea is None and eb is None:
            return None
        seq += 1
        if diverges(ea, eb):
            return seq
