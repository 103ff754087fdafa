"""What ``tradetape sessions`` shows of each session, read without folding it.

Per session: mode, seed and starting cash from its ``SessionStarted`` (seq 1), the source session
of a derived one (``config["source"]``, written by ``simulate``), the policy (``config["policy"]``
or a live session's ``policy_spec``), the event count (the head seq), the first and last event
times (the ``ts`` of seq 1 and of the head: two one-row reads), and its markets.

Markets come from the config where the writer recorded them (live sessions, and ``simulate
--markets``); a derived session without them feeds every market of its source, so it shows its
source's; otherwise they come from a scan that decodes only each event's ``market`` field
(measured: 0.55 s for a 1,000,000-event SQLite session, against about 6 s to fold it). A source
is scanned once per listing however many sessions derive from it. Nothing is written.
"""

from __future__ import annotations

from contextlib import aclosing

import msgspec

from events.errors import BadInput
from events.store import EventStore, SessionInfo, read_one
from events.store.spans import is_derived
from events.types import SessionStarted


class SessionRow(msgspec.Struct, frozen=True, kw_only=True):
    """One line of the listing. Times are UTC ISO 8601 strings (nanoseconds kept) and
    ``starting_cash`` is money units (``events.units``), exact."""

    session: str
    mode: str
    source: str | None
    policy: str | None
    seed: int | None
    starting_cash: int
    markets: tuple[str, ...]
    events: int
    first_ts: str | None
    last_ts: str | None
    head: str


class _MarketOnly(msgspec.Struct):
    market: str | None = None


_markets_decoder = msgspec.msgpack.Decoder(list[_MarketOnly])


async def session_rows(store: EventStore) -> list[SessionRow]:
    """A row for every complete session in the store, in name order."""
    scanned: dict[str, tuple[str, ...]] = {}
    return [await _row(store, info, scanned) for info in await store.sessions()]


async def _row(store: EventStore, info: SessionInfo, scanned: dict[str, tuple[str, ...]]) -> SessionRow:
    from .timefmt import format_ns

    first = await read_one(store, info.name, 1)
    last = await read_one(store, info.name, info.head_seq)
    started = first if isinstance(first, SessionStarted) else None
    config = dict(started.config) if started is not None else {}
    source = config.get("source")
    if "markets" in config:
        markets = tuple(sorted(m for m in config["markets"].split(",") if m))
    elif source is not None and await store.exists(source):
        markets = await _scan_markets(store, source, scanned)
    else:
        markets = await _scan_markets(store, info.name, scanned)
    return SessionRow(
        session=info.name,
        mode=started.mode if started is not None else "-",
        source=source,
        policy=config.get("policy") or config.get("policy_spec"),
        seed=started.seed if started is not None else None,
        starting_cash=started.starting_cash if started is not None else 0,
        markets=markets,
        events=info.head_seq,
        first_ts=None if first is None else format_ns(first.ts),
        last_ts=None if last is None else format_ns(last.ts),
        head=info.head_hash.hex(),
    )


async def markets_of(store: EventStore, name: str) -> tuple[str, ...]:
    """The markets of session ``name``, found as the listing finds them (module docstring)."""
    return (await _row(store, await store.session(name), {})).markets


async def _scan_markets(store: EventStore, name: str, scanned: dict[str, tuple[str, ...]]) -> tuple[str, ...]:
    """The markets ``name``'s events name, decoding nothing else (module docstring)."""
    if name in scanned:
        return scanned[name]
    seen: set[str] = set()
    async with aclosing(store.read_chunks(name)) as rows:
        async for ch in rows:
            if is_derived(ch):  # a derived session that recorded no source: expand its spans
                async with aclosing(store.read_logical(name, ch.first_seq, ch.last_seq)) as logical:
                    rows_of = [x async for x in logical]
                payloads = [x.payload for x in rows_of]
            else:
                payloads = [ch.payload]
            for payload in payloads:
                try:
                    seen.update(m.market for m in _markets_decoder.decode(payload) if m.market)
                except msgspec.DecodeError as exc:
                    raise BadInput(f"session {name!r}: chunk at seq {ch.first_seq} is damaged ({exc}); "
                                   "run `tradetape audit verify`") from None
    scanned[name] = tuple(sorted(seen))
    return scanned[name]
