"""``audit show``: stream a session's events with filters, as text lines or JSON lines."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import aclosing

import msgspec

from events.codec import to_builtins
from events.errors import BadInput
from events.store import EventStore
from events.types import EVENT_TYPES, EventBase, market_of, markets_of, tag_of, type_name

from ..timefmt import format_ns

TYPE_NAMES = sorted(type_name(tag_of(c)) for c in EVENT_TYPES)


def resolve_types(names: list[str] | None) -> set[str] | None:
    """User type filters (``book_delta`` or ``book_delta.v1``) to tags; unknown names are errors."""
    if not names:
        return None
    wanted = set()
    for name in names:
        for part in name.split(","):
            base = type_name(part.strip())
            if base not in TYPE_NAMES:
                raise BadInput(f"--type {part!r}: unknown event type (one of: {', '.join(TYPE_NAMES)})")
            wanted.add(base)
    return wanted


async def iter_events(
    store: EventStore,
    session: str,
    *,
    types: set[str] | None = None,
    market: str | None = None,
    from_seq: int = 1,
    to_seq: int | None = None,
    seen: set[str] | None = None,
) -> AsyncGenerator[tuple[int, EventBase], None]:
    """(seq, event) pairs of ``session`` that pass the filters, in seq order. ``seen``, if
    given, collects the market of every event read (filtered out or not)."""
    seq = max(from_seq, 1) - 1
    async with aclosing(store.read(session, max(from_seq, 1), to_seq)) as batches:
        async for batch in batches:
            for e in batch:
                seq += 1
                if seen is not None:
                    m = market_of(e)
                    if m is not None:
                        seen.add(m)
                if types is not None and type_name(tag_of(type(e))) not in types:
                    continue
                if market is not None and market not in markets_of(e):
                    continue
                yield seq, e


def json_line(seq: int, e: EventBase) -> bytes:
    return msgspec.json.encode({"seq": seq, **to_builtins(e)})


def text_line(seq: int, e: EventBase) -> str:
    d = to_builtins(e)
    tag = d.pop("type")
    ts = d.pop("ts")
    market = d.pop("market", "")
    rest = " ".join(f"{k}={_short(v)}" for k, v in d.items())
    return f"{seq:>9}  {format_ns(ts)}  {type_name(tag):<16} {market:<28} {rest}"


def _short(v: object) -> str:
    s = msgspec.json.encode(v).decode()
    return s if len(s) <= 120 else s[:117] + "..."
