"""Verify a stored session: structure, strict decoding and the hash chain, naming the first bad seq.

The walk reads the session's chunks in ``first_seq`` order (``EventStore.read_chunks``, reads
only: open the store with ``open_store(url, readonly=True)`` and nothing can be written) and
checks, in order of seq:

- the chunks tile seqs 1..head with no gap (a deleted row: the first missing seq is bad) and no
  overlap (a duplicated or inserted row: the first seq stored twice is bad);
- each chunk's ids, hashes and payload elements count ``last_seq - first_seq + 1``;
- each event's hash equals ``SHA-256(previous hash || event bytes)`` recomputed from
  ``GENESIS``, and each event decodes strictly;
- the session row's head (seq, hash) equals the end of the walked chain;
- with ``anchors`` (seq, hash) kept OUTSIDE the database, the chain holds each hash at its seq
  (every one of them: a session extended later has several, and a forged or stale line must not
  be able to outvote the others).

The limit, stated plainly: a chain kept in the same database as the events catches corruption and
naive edits, but NOT a truncated tail (rows deleted and the session head moved back to match) nor
a rewrite that recomputes every later hash and the head. Both leave a self-consistent chain; only
an anchor recorded elsewhere (the run report, ``engine.anchors``' file, a tape's header) exposes
them. A bad seq is located exactly for everything the stored chain can see; against an anchor, a
truncation is named at the first missing seq (stored head + 1) and a recomputed chain at the
anchor's seq (the rewrite started there or earlier: one anchor cannot say where).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from contextlib import aclosing

import msgspec

from .. import chain
from ..anchorfile import AT_HEAD
from ..codec import MAX_EVENT_BYTES, decode, decode_array, split_array
from ..errors import BadInput, DecodeError, UnknownSession
from .protocol import EventStore
from .records import RawChunk
from .spans import Resolver, is_derived, parse_span


class VerifyReport(msgspec.Struct, frozen=True, kw_only=True):
    """The outcome. ``head_seq``/``head_hash`` are what the session row claims (trustworthy only
    when ``ok``); ``events_checked`` counts events verified before the first problem."""

    session: str
    ok: bool
    events_checked: int
    head_seq: int
    head_hash: bytes
    first_bad_seq: int | None = None
    problem: str = ""


class _Bad(Exception):
    def __init__(self, seq: int, problem: str) -> None:
        super().__init__(problem)
        self.seq = seq
        self.problem = problem


async def verify_session(
    store: EventStore, name: str, *, anchors: Sequence[tuple[int, bytes]] = ()
) -> VerifyReport:
    """Walk ``name``'s chain and check it against every one of ``anchors`` (``parse_anchors``);
    see the module docstring for what is and is not caught."""
    info = await store.session(name)
    walk = _Walk()
    resolved: list[tuple[int, bytes]] = []
    for seq, want in anchors:
        if seq != AT_HEAD and seq < 0:
            raise BadInput(f"anchor seq {seq} is not a sequence number")
        resolved.append((info.head_seq if seq == AT_HEAD else seq, want))
    resolved.sort(key=lambda a: a[0])
    walk.want([seq for seq, _ in resolved])
    try:
        await walk.run(store, name, info.head_seq)
        walk.check_head(info.head_seq, info.head_hash)
        await _check_beyond(store, name, info.head_seq)
        walk.check_anchors(resolved, info.head_seq)
        for base, seq in walk.bases.items():
            rep = await verify_session(store, base)
            if not rep.ok:
                raise _Bad(seq, f"its spans refer to session {base!r}, which fails verification ({rep.problem})")
    except _Bad as bad:
        return VerifyReport(
            session=name,
            ok=False,
            events_checked=walk.checked,
            head_seq=info.head_seq,
            head_hash=info.head_hash,
            first_bad_seq=bad.seq,
            problem=f"seq {bad.seq}: {bad.problem}",
        )
    return VerifyReport(
        session=name, ok=True, events_checked=walk.checked, head_seq=info.head_seq, head_hash=info.head_hash
    )


class _Walk:
    def __init__(self) -> None:
        self.seq = 0  # last verified seq
        self.prev = chain.GENESIS  # its hash
        self.checked = 0
        self.wanted: list[int] = []  # anchor seqs above 0, sorted, without repeats
        self.wanted_set: frozenset[int] = frozenset()
        self.seen: dict[int, bytes] = {0: chain.GENESIS}  # the recomputed hash at each, once walked
        self.bases: dict[str, int] = {}  # base sessions of spans -> the first seq referring to each

    def want(self, seqs: list[int]) -> None:
        self.wanted = sorted({s for s in seqs if s > 0})
        self.wanted_set = frozenset(self.wanted)

    def _wanted_in(self, lo: int, hi: int) -> list[int]:
        return self.wanted[bisect_left(self.wanted, lo) : bisect_right(self.wanted, hi)]

    async def run(self, store: EventStore, name: str, head_seq: int) -> None:
        """Every row that starts at or before the session head, in first_seq order."""
        reader = store.read_chunks(name, 1, head_seq)
        held: RawChunk | None = None
        resolver = Resolver(store)
        try:
            async with aclosing(reader) as chunks:
                async for ch in chunks:
                    if held is not None:
                        await self.row(held, ch.first_seq, name, resolver)
                    held = ch
            if held is not None:
                await self.row(held, None, name, resolver)
        finally:
            await resolver.close()

    async def row(self, ch: RawChunk, next_first: int | None, name: str, resolver: Resolver) -> None:
        if is_derived(ch):
            self._tile(ch)
            await self._derived(ch, name, resolver)
            if next_first is not None and next_first <= ch.last_seq:
                raise _Bad(next_first, f"stored twice: a row at seq {next_first} overlaps the row at seq "
                                       f"{ch.first_seq}..{ch.last_seq}")
        else:
            self.chunk(ch, next_first)

    def _tile(self, ch: RawChunk) -> None:
        first, last = ch.first_seq, ch.last_seq
        if first > self.seq + 1:
            raise _Bad(self.seq + 1, f"missing: no stored row holds seqs {self.seq + 1}..{first - 1}")
        if first <= self.seq:
            raise _Bad(first, f"stored twice: a row at seq {first} overlaps seqs up to {self.seq}")
        if last < first:
            raise _Bad(first, f"row at seq {first} claims to end at seq {last}")

    async def _derived(self, ch: RawChunk, name: str, resolver: Resolver) -> None:
        """A row holding spans (``spans``), element by element: each event linked and decoded,
        each span linked with the base's hash at its last event."""
        first = ch.first_seq
        ids, hashes = _columns(ch)
        try:
            elements = split_array(ch.payload)
        except DecodeError:
            raise _Bad(first, f"row at seq {first}: the payload is not one MessagePack array") from None
        if not len(elements) == len(ids) == len(hashes):
            raise _Bad(first, f"row at seq {first}..{ch.last_seq} is damaged: its columns differ in length")
        for k, element in enumerate(elements):
            seq = self.seq + 1
            try:
                span = parse_span(element)
            except (BadInput, DecodeError, msgspec.DecodeError) as exc:
                raise _Bad(seq, f"a damaged span ({exc})") from None
            if span is None:
                h = chain.link(self.prev, element)
                count = 1
            else:
                if span.count < 2 or span.base == name:
                    raise _Bad(seq, f"a span of {span.base!r} {span.first}..{span.last} is malformed")
                try:
                    base_hash = await resolver.cursor(span.base).hash_at(span.last)
                except (BadInput, UnknownSession) as exc:
                    raise _Bad(seq, f"a span refers to events the store does not hold ({exc})") from None
                h = chain.link(self.prev, element + base_hash)
                count = span.count
                self.bases.setdefault(span.base, seq)
            if h != hashes[k]:
                raise _Bad(seq, f"hash mismatch (stored {hashes[k].hex()[:16]}…, computed {h.hex()[:16]}…)")
            if span is None and (problem := _decode_problem(element)):
                raise _Bad(seq, problem)
            end = seq + count - 1
            if end > ch.last_seq:
                break
            for s in self._wanted_in(seq, end):
                self.seen[s] = h if s == end else b"inside a span"
            self.seq, self.prev = end, h
            self.checked += count
        if self.seq != ch.last_seq:
            raise _Bad(first, f"row at seq {first}..{ch.last_seq} is damaged: its elements stand for other seqs")

    def chunk(self, ch: RawChunk, next_first: int | None) -> None:
        """Verify one row, knowing where the next row starts (an overlap is bad from there)."""
        self._tile(ch)
        first, last = ch.first_seq, ch.last_seq
        n = last - first + 1
        # With an overlap, the events before the next row's start are checked first: a fault
        # there is the first one; from the next row's start on, seqs are stored twice.
        overlap = next_first is not None and next_first <= last
        good_until = next_first - 1 if next_first is not None and overlap else last
        ids, hashes = _columns(ch)
        try:
            payloads = split_array(ch.payload)
        except DecodeError:
            payloads = []
        if (
            overlap
            or not (len(payloads) == len(ids) == len(hashes) == n)
            or not _fast(self.prev, ids, payloads, hashes, ch.payload)
        ):
            self._slow(ch, n, ids, hashes, good_until)
        else:
            self._advance(first, n, hashes)
        if overlap:
            assert next_first is not None
            raise _Bad(next_first, f"stored twice: a row at seq {next_first} overlaps the row at seq {first}..{last}")

    def _advance(self, first: int, n: int, hashes: list[bytes]) -> None:
        for s in self._wanted_in(first, first + n - 1):
            self.seen[s] = hashes[s - first]
        self.seq, self.prev = first + n - 1, hashes[-1]
        self.checked += n

    def _slow(self, ch: RawChunk, n: int, ids: list[int], hashes: list[bytes], good_until: int) -> None:
        """Event by event, to name the first bad one exactly (only reached on damage)."""
        data = ch.payload
        first = ch.first_seq
        count, pos = _array_head(data)
        for k in range(min(n, good_until - first + 1)):
            seq = first + k
            if k >= len(ids) or k >= len(hashes):
                raise _Bad(seq, f"row at seq {first}: the ids/hashes columns hold fewer than {n} events")
            end = _skip(data, pos) if pos >= 0 else -1
            if end < 0:
                raise _Bad(seq, "event bytes are damaged (not one MessagePack value)")
            payload = data[pos:end]
            h = chain.link(self.prev, payload)
            if h != hashes[k]:
                raise _Bad(seq, f"hash mismatch (stored {hashes[k].hex()[:16]}…, computed {h.hex()[:16]}…)")
            problem = _decode_problem(payload)
            if problem:
                raise _Bad(seq, problem)
            if seq in self.wanted_set:
                self.seen[seq] = h
            self.seq, self.prev, pos = seq, h, end
            self.checked += 1
        if good_until == ch.last_seq and (count != n or pos != len(data) or len(ids) != n or len(hashes) != n):
            raise _Bad(
                first, f"row at seq {first}..{ch.last_seq} is damaged: its columns do not hold exactly {n} events"
            )

    def check_head(self, head_seq: int, head_hash: bytes) -> None:
        if head_seq > self.seq:
            raise _Bad(
                self.seq + 1, f"missing: the session head is seq {head_seq} but the stored events end at {self.seq}"
            )
        if head_seq < self.seq:
            raise _Bad(head_seq + 1, f"events stored past the session head (seq {head_seq})")
        if head_hash != self.prev:
            raise _Bad(head_seq, "the session row's head hash does not match the chain")

    def check_anchors(self, anchors: list[tuple[int, bytes]], head_seq: int) -> None:
        """Every anchor, in seq order (the first that fails is reported)."""
        for seq, want in anchors:
            if seq > head_seq:
                raise _Bad(
                    head_seq + 1,
                    f"missing: an anchor is at seq {seq} but the session ends at {head_seq} (truncated tail)",
                )
            if self.seen.get(seq) != want:
                raise _Bad(seq, f"the chain differs from the anchor at seq {seq} (rewritten at seq {seq} or earlier)")


async def _check_beyond(store: EventStore, name: str, head_seq: int) -> None:
    """Rows that start past the head read at the start are appends made since (the session head
    has moved past them: they are left for the next verification) or rows that do not belong."""
    reader = store.read_chunks(name, head_seq + 1)
    last = 0
    async with aclosing(reader) as chunks:
        async for ch in chunks:
            if ch.first_seq > head_seq:
                last = max(last, ch.last_seq)
    if last and last > (await store.session(name)).head_seq:
        raise _Bad(head_seq + 1, f"events stored past the session head (seq {head_seq})")


def _columns(ch: RawChunk) -> tuple[list[int], list[bytes]]:
    """The whole 8-byte ids and 32-byte hashes of a row (a ragged tail is dropped: counts differ)."""
    ids = ch.id_list()[: len(ch.ids) // 8]
    hashes = [h for h in ch.hash_list() if len(h) == 32]
    return ids, hashes


def _fast(prev: bytes, ids: list[int], payloads: list[bytes], hashes: list[bytes], array: bytes) -> bool:
    """The common case in bulk: whole-row chain comparison and one strict decode of the row
    (``array`` split cleanly into ``payloads``, so it decodes iff each of them does)."""
    if chain.extend(prev, payloads) != hashes:
        return False
    if any(len(p) > MAX_EVENT_BYTES for p in payloads):
        return False
    try:
        decode_array(array)
    except DecodeError:
        return False
    return True


def _decode_problem(payload: bytes) -> str:
    try:
        decode(payload)
    except DecodeError as exc:
        return f"undecodable event: {str(exc).split(': ', 1)[-1]}"
    return ""


# --- a bounds-checked MessagePack skipper, to find event boundaries in a damaged row ---------

_FIXED = {
    0xC0: 0,
    0xC2: 0,
    0xC3: 0,
    0xCA: 4,
    0xCB: 8,
    0xCC: 1,
    0xCD: 2,
    0xCE: 4,
    0xCF: 8,
    0xD0: 1,
    0xD1: 2,
    0xD2: 4,
    0xD3: 8,
    0xD4: 2,
    0xD5: 3,
    0xD6: 5,
    0xD7: 9,
    0xD8: 17,
}
_SIZED = {0xC4: 1, 0xC5: 2, 0xC6: 4, 0xD9: 1, 0xDA: 2, 0xDB: 4}  # bin, str: length bytes
_EXT = {0xC7: 1, 0xC8: 2, 0xC9: 4}  # ext: length bytes, then a type byte
_CONTAINER = {0xDC: (2, 1), 0xDD: (4, 1), 0xDE: (2, 2), 0xDF: (4, 2)}  # (length bytes, items per entry)


def _array_head(data: bytes) -> tuple[int, int]:
    """(element count, offset of the first element) of a stored array; (-1, -1) if damaged."""
    if len(data) >= 5 and data[0] == 0xDD:
        return int.from_bytes(data[1:5], "big"), 5
    if len(data) >= 3 and data[0] == 0xDC:
        return int.from_bytes(data[1:3], "big"), 3
    if data and 0x90 <= data[0] <= 0x9F:
        return data[0] & 0x0F, 1
    return -1, -1


def _skip(data: bytes, pos: int) -> int:
    """The offset just past the MessagePack value at ``pos``, or -1 where it runs off the end."""
    pending = 1
    n = len(data)
    while pending:
        if pos >= n:
            return -1
        b = data[pos]
        pos += 1
        pending -= 1
        if b <= 0x7F or b >= 0xE0:
            continue
        if b <= 0x8F:
            pending += 2 * (b & 0x0F)
        elif b <= 0x9F:
            pending += b & 0x0F
        elif b <= 0xBF:
            pos += b & 0x1F
        elif b in _FIXED:
            pos += _FIXED[b]
        elif b in _SIZED or b in _EXT:
            width = _SIZED.get(b) or _EXT[b]
            if pos + width > n:
                return -1
            pos += width + int.from_bytes(data[pos : pos + width], "big") + (1 if b in _EXT else 0)
        elif b in _CONTAINER:
            width, per = _CONTAINER[b]
            if pos + width > n:
                return -1
            pending += per * int.from_bytes(data[pos : pos + width], "big")
            pos += width
        else:  # 0xC1: never used
            return -1
        if pending > n - pos:
            return -1  # more items promised than bytes left (each needs one): damaged
    return pos if pos <= n else -1
