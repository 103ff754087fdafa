"""Derived sessions: a stored row may hold *spans*, references to runs of another session's events.

A re-simulation's log is the source's market events with the policy's and the exchange's events
between them. Copying the source's bytes (and hashing each again) cost more than the whole
simulation (200k events: ≈ 0.5 s of a 1.5 s run, measured), and a parameter sweep stored the
same market data once per run. So ``simulate`` writes its market events as spans instead: an
element of the row's payload array that stands for events ``first..last`` (at least two,
consecutive) of a plain base session, in place. EventStoreDB's link events are the model.

Layout of a derived row (the same ``tt_chunks`` columns, no new table):

- ``payload`` is a MessagePack array whose elements are encoded events (maps) or spans:
  MessagePack ext type ``SPAN_EXT`` holding ``>qq`` (first, last) and the base session's name;
- ``ids`` and ``hashes`` hold one entry per *element*: a span's id is that of its first event (the
  ids of a derived append are consecutive over its events, so the id index is unchanged);
- ``first_seq..last_seq`` are the seqs of the events the row stands for, spans expanded, so
  seqs stay gap-free and every reader sees the same numbering as in a copied session.

A row is derived exactly when it holds fewer elements than events (a span stands for two or more),
so telling one apart costs nothing. The chain links an event as always and a span as
``SHA-256(prev || span element || hash of the base's event `last`)``: the base's chain commits
to every base event up to ``last``, so the derived head commits to every event the session stands
for. ``audit verify`` checks the spans against the base and verifies the base. Spans always
point at a plain session; a derived session re-simulated is copied. Readers resolve spans
(``Resolver``, over any ``protocol.EventStore``): ``read`` and ``read_logical`` yield the expanded
events.
"""

from __future__ import annotations

import struct
from collections.abc import AsyncGenerator, Callable, Sequence
from contextlib import aclosing
from typing import TypeVar

import msgspec

from ..codec import decode, decode_array, join_array, split_array
from ..errors import BadInput
from ..types import Event
from .protocol import EventStore
from .records import RawChunk, pack_ids

T = TypeVar("T")

SPAN_EXT = 7
_RANGE = struct.Struct(">qq")
_EXT_MARKERS = frozenset((0xC7, 0xC8, 0xC9))  # ext 8/16/32 (spans always use these forms)


class Span(msgspec.Struct, frozen=True):
    base: str
    first: int
    last: int

    @property
    def count(self) -> int:
        return self.last - self.first + 1


def encode_span(base: str, first: int, last: int) -> bytes:
    """The element bytes of a span (ext 8 or ext 16, whichever the name needs)."""
    data = _RANGE.pack(first, last) + base.encode()
    if len(data) < 256:
        return b"\xc7" + bytes((len(data), SPAN_EXT)) + data
    return b"\xc8" + len(data).to_bytes(2, "big") + bytes((SPAN_EXT,)) + data


def parse_span(element: bytes) -> Span | None:
    """The span an element stands for, or None for an encoded event."""
    if not element or element[0] not in _EXT_MARKERS:
        return None
    ext = msgspec.msgpack.decode(element)
    data = bytes(ext.data) if isinstance(ext, msgspec.msgpack.Ext) else b""
    if not isinstance(ext, msgspec.msgpack.Ext) or ext.code != SPAN_EXT or len(data) < _RANGE.size:
        raise BadInput("a stored element is an unknown MessagePack extension")
    first, last = _RANGE.unpack_from(data)
    return Span(data[_RANGE.size :].decode(), first, last)


def is_derived(ch: RawChunk) -> bool:
    """Whether the row holds spans: fewer elements (one 32-byte hash each) than events."""
    return len(ch.hashes) != 32 * (ch.last_seq - ch.first_seq + 1)


def element_end_hash(ch: RawChunk, seq: int) -> bytes | None:
    """The chain hash after ``seq`` (None when ``seq`` falls inside a span)."""
    if not is_derived(ch):
        k = seq - ch.first_seq
        return ch.hashes[32 * k : 32 * k + 32]
    at = ch.first_seq - 1
    for k, element in enumerate(split_array(ch.payload)):
        span = parse_span(element)
        at += 1 if span is None else span.count
        if at == seq:
            return ch.hashes[32 * k : 32 * k + 32]
        if at > seq:
            return None
    return None


class _Cursor:
    """A forward reader over one plain base session; spans of a derived session ascend."""

    def __init__(self, store: EventStore, base: str) -> None:
        self.store, self.base = store, base
        self._rows: AsyncGenerator[RawChunk, None] | None = None
        self.row: RawChunk | None = None
        self._raws: list[bytes] | None = None
        self._events: list[Event] | None = None

    async def at(self, seq: int) -> RawChunk:
        """The base row holding ``seq``."""
        row = self.row
        if row is not None and row.first_seq <= seq <= row.last_seq:
            return row
        if row is None or seq < row.first_seq or self._rows is None:
            await self.close()
            self._rows = self.store.read_chunks(self.base, seq)
        while True:
            nxt = await anext(self._rows, None)
            if nxt is None:
                raise BadInput(f"a span refers to seq {seq} of session {self.base!r}, which it does not hold")
            if nxt.last_seq < seq:
                continue
            if is_derived(nxt):
                raise BadInput(f"a span refers to session {self.base!r}, which is itself derived")
            self.row, self._raws, self._events = nxt, None, None
            return nxt

    async def raws(self, first: int, last: int) -> list[bytes]:
        """Base events ``first..last`` as their bytes, each row split once."""
        return await self._take(first, last, self._split)

    async def events(self, first: int, last: int) -> list[Event]:
        """Base events ``first..last`` decoded, each row decoded once."""
        return await self._take(first, last, self._decoded)

    def _split(self, row: RawChunk, where: str) -> list[bytes]:
        if self._raws is None:
            self._raws = split_array(row.payload, where)
        return self._raws

    def _decoded(self, row: RawChunk, where: str) -> list[Event]:
        if self._events is None:
            self._events = decode_array(row.payload, where)
        return self._events

    async def _take(self, first: int, last: int, held: Callable[[RawChunk, str], Sequence[T]]) -> list[T]:
        """Base events ``first..last``; ``held(row, where)`` gives the current row's items (of
        ``self.row``, which ``at`` just made current)."""
        out: list[T] = []
        seq = first
        while seq <= last:
            row = await self.at(seq)
            items = held(row, f"session {self.base!r} chunk at seq {row.first_seq}")
            hi = min(last, row.last_seq)
            out.extend(items[seq - row.first_seq : hi - row.first_seq + 1])
            seq = hi + 1
        return out

    async def hash_at(self, seq: int) -> bytes:
        row = await self.at(seq)
        k = seq - row.first_seq
        return row.hashes[32 * k : 32 * k + 32]

    async def close(self) -> None:
        if self._rows is not None:
            await self._rows.aclose()
            self._rows = None


class Resolver:
    """Expands the spans of derived rows, keeping one forward cursor per base session."""

    def __init__(self, store: EventStore) -> None:
        self.store = store
        self._cursors: dict[str, _Cursor] = {}

    def cursor(self, base: str) -> _Cursor:
        c = self._cursors.get(base)
        if c is None:
            c = self._cursors[base] = _Cursor(self.store, base)
        return c

    async def events(self, ch: RawChunk, where: str) -> list[Event]:
        """The row's events, decoded, spans expanded."""
        out: list[Event] = []
        for element in split_array(ch.payload, where):
            span = parse_span(element)
            if span is None:
                out.append(decode(element, where))
            else:
                out.extend(await self.cursor(span.base).events(span.first, span.last))
        return out

    async def raw(self, ch: RawChunk, where: str) -> RawChunk:
        """The row as a plain one: every event's bytes and id, ``hashes`` empty (a span's events
        have no hash of their own in this session)."""
        raws: list[bytes] = []
        ids: list[int] = []
        for element, eid in zip(split_array(ch.payload, where), ch.id_list(), strict=True):
            span = parse_span(element)
            if span is None:
                raws.append(element)
                ids.append(eid)
            else:
                raws.extend(await self.cursor(span.base).raws(span.first, span.last))
                ids.extend(range(eid, eid + span.count))
        if len(raws) != ch.last_seq - ch.first_seq + 1:
            raise BadInput(f"{where}: the row's spans do not add up to its seqs; run `tradetape audit verify`")
        return RawChunk(first_seq=ch.first_seq, last_seq=ch.last_seq, ids=pack_ids(ids), payload=join_array(raws),
                        hashes=b"")

    async def close(self) -> None:
        for c in self._cursors.values():
            await c.close()


async def bases_of(store: EventStore, name: str) -> list[str]:
    """The base sessions ``name``'s spans refer to, in order of first reference."""
    seen: dict[str, None] = {}
    async with aclosing(store.read_chunks(name)) as rows:
        async for ch in rows:
            if is_derived(ch):
                for element in split_array(ch.payload):
                    span = parse_span(element)
                    if span is not None:
                        seen.setdefault(span.base)
    return list(seen)
