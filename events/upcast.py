"""Upcasters: old event versions become current ones on read, never rewritten in storage.

``UPCASTERS`` maps a legacy Struct class to a function returning the next version. Decoding
calls ``upcast`` only when a chunk's bytes contain a legacy tag, so current data pays nothing.
"""

from __future__ import annotations

from collections.abc import Callable

from .types import EventBase, SessionStarted, SessionStartedV1, tag_of


def _session_started_v1_to_v2(e: SessionStartedV1) -> SessionStarted:
    # v1 sessions were recorded before subscription parameters were stored; every feed then
    # used Kalshi's default NO-leg pricing for NO levels, i.e. use_yes_price=false.
    return SessionStarted(
        ts=e.ts,
        session=e.session,
        mode=e.mode,
        engine_version=e.engine_version,
        seed=e.seed,
        starting_cash=e.starting_cash,
        config=dict(e.config),
        params={"use_yes_price": "false"},
    )


UPCASTERS: dict[type[EventBase], Callable[..., EventBase]] = {
    SessionStartedV1: _session_started_v1_to_v2,
}
LEGACY_TAGS: tuple[bytes, ...] = tuple(tag_of(cls).encode() for cls in UPCASTERS)


def upcast(event: EventBase) -> EventBase:
    """Apply upcasters until the event is of a current type."""
    fn = UPCASTERS.get(type(event))
    while fn is not None:
        event = fn(event)
        fn = UPCASTERS.get(type(event))
    return event


def has_legacy(payload: bytes) -> bool:
    """Cheap pre-check on encoded bytes: could this payload hold a legacy event?"""
    return any(tag in payload for tag in LEGACY_TAGS)
