"""Import a JSONL file of Kalshi WebSocket frames as one stored session, all or nothing.

Input: one JSON object per line (blank lines ignored, at most 1 MiB each), either
- a raw server frame ``{"type", "sid", "seq", "msg"}`` or client command ``{"id", "cmd", "params"}``,
- or the recorder's wrapper ``{"ts_recv": <ns>, "frame": <one of the above>}``.

The frames go through the live client's own protocol core (``engine.live.feed_core`` in its
recording mode), so the import follows the same rules: per-sid ``seq`` over data frames and
the ``ok``/``unsubscribed``/``error`` replies that carry a sid and a seq (kalshi-protocol.md
§0.1), ``subscribed`` replies opening a sid with the markets its command named, terminal
errors 10/25 recorded as ``FeedFault(kind="subscription_lost")``, and private frames (``fill``,
``user_order``, ``market_position``; §0.7) checked, counted in ``private`` and never turned
into market data. A recording issues no command; its own commands are read only to learn which
markets a subscription holds.

Receive time (the ``ts`` of every event made from a frame): a wrapper's ``ts_recv``; for a raw
frame its ``msg.ts_ms`` (ms → ns) when present, else the frame's own older-style timestamp
(``ts``: Unix seconds on a trade, RFC3339 on a delta), else the previous sequenced frame's
receive time, else 0. (The issue's rule is ``ts_ms`` else the previous frame's; a frame that
carries its own time in an older field uses it, so legacy captures seek by time too.) Raw
receive times are therefore approximate (exact only where ``ts_ms`` is) and are not forced to
be monotonic; unsequenced raw frames (ticker, private ...) never set it.

Subscription parameters that change what the wire means (``use_yes_price``) are read from
every ``subscribe`` command in the file (a first pass, so they apply to the whole file), merged
with the ``params`` argument, and stored in ``SessionStarted.params`` as "true"/"false".
Two values for one parameter are ``BadInput``: a session has one meaning.

Output, appended as one new session with ``append_new`` (committed in batches that never hold
the write lock long, visible only once complete: ``events.store.staging``):
``SessionStarted(mode="import")``, the market events in file order (a ``FeedGap`` just before
the frame that revealed it; duplicate and out-of-order frames dropped), ``SessionEnded``.
Event ids are ``derived_ids("import:" + sha256(file), position, n)``. Importing into a session
that already exists is ``BadInput`` (checked first, and again when the session is published). Any ``BadInput`` (a malformed private frame
too) names file and line, and nothing is written. Counting: ``frames`` = translated (frames
that became events) + ``dropped`` + sum(``skipped``) + sum(``private``).
"""

from __future__ import annotations

import asyncio
import hashlib
import pathlib
import shlex
from collections.abc import Iterator
from typing import IO, Any

import msgspec

from engine.kalshi import wire
from engine.kalshi.translate import exchange_ns
from engine.live.feed_core import REPLIES, FeedCore
from events.codec import encode
from events.errors import BadInput
from events.ids import derived_ids
from events.names import check_session_name
from events.store import EventStore
from events.types import SessionEnded, SessionStarted
from events.version import ENGINE_VERSION

BATCH_EVENTS = 4096
MEANING_PARAMS = ("use_yes_price",)
_BOOLS = {True: "true", False: "false"}


class ImportSummary(msgspec.Struct, frozen=True, kw_only=True):
    """What an import did. ``first_seq``/``last_seq`` are the session's stored positions."""

    session: str
    source_sha256: str
    frames: int
    events: int
    gaps: int
    dropped: int
    skipped: dict[str, int]
    private: dict[str, int]
    first_seq: int
    last_seq: int


class _Parsed(msgspec.Struct, kw_only=True):
    batches: list[tuple[list[bytes], list[int]]]
    frames: int
    events: int
    gaps: int
    dropped: int
    skipped: dict[str, int]
    private: dict[str, int]


async def import_jsonl(
    store: EventStore,
    path: pathlib.Path,
    session: str | None = None,
    *,
    params: dict[str, str] | None = None,
    progress: bool = False,
) -> ImportSummary:
    """Import ``path`` into ``session`` (default: the file's stem); see the module docstring."""
    path = pathlib.Path(path)
    if session is not None:
        name = check_session_name(session, "--session")
    else:
        name = check_session_name(path.stem, f"{path}: the file name (import it with --session NAME)")
    if await store.exists(name):
        raise BadInput(f"session {name!r} already exists in {store.url}: give --session NEW_NAME, or remove it "
                       f"first (`tradetape delete {shlex.quote(name)} --yes`)")
    sha, parsed = await asyncio.to_thread(_parse, path, name, dict(params or {}), progress)
    result = await store.append_new(name, parsed.batches)  # batched, published at the end
    return ImportSummary(
        session=name,
        source_sha256=sha,
        frames=parsed.frames,
        events=parsed.events,
        gaps=parsed.gaps,
        dropped=parsed.dropped,
        skipped=parsed.skipped,
        private=parsed.private,
        first_seq=result.first_seq,
        last_seq=result.last_seq,
    )


def _parse(path: pathlib.Path, name: str, params: dict[str, str], progress: bool) -> tuple[str, _Parsed]:
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            sha, file_params = _scan(f, path.name, _bar(progress, size, "hash"))
            merged = _merge_params(path.name, file_params, params)
            f.seek(0)
            return sha, _translate(f, path.name, sha, name, merged, _bar(progress, size, "import"))
    except OSError as exc:
        raise BadInput(f"{path}: cannot read: {exc.strerror or exc}") from None


def _lines(f: IO[bytes], fname: str, bar: Any) -> Iterator[tuple[int, bytes, bytes]]:
    """(line number, raw line, line without its newline); a line over ``MAX_FRAME_BYTES`` is
    refused without reading the rest of it."""
    n = 0
    try:
        while line := f.readline(wire.MAX_FRAME_BYTES + 2):
            n += 1
            if bar is not None:
                bar.update(len(line))
            body = line.rstrip(b"\r\n")
            if len(body) > wire.MAX_FRAME_BYTES:
                raise BadInput(f"{fname}:{n}: line is longer than {wire.MAX_FRAME_BYTES} bytes")
            yield n, line, body
    finally:
        if bar is not None:
            bar.close()


def _unwrap(line: bytes) -> tuple[int | None, wire.Frame]:
    frame = wire.decode_frame(line)
    if frame.ts_recv is None and not len(frame.frame):
        return None, frame
    if frame.ts_recv is None or not len(frame.frame):
        raise BadInput("a wrapped frame needs both ts_recv and frame")
    if frame.ts_recv < 0:
        raise BadInput(f"ts_recv {frame.ts_recv} is negative")
    inner = wire.decode_frame(frame.frame)
    if inner.ts_recv is not None or len(inner.frame):
        raise BadInput("a wrapped frame holds another wrapper")
    return frame.ts_recv, inner


def _scan(f: IO[bytes], fname: str, bar: Any) -> tuple[str, dict[str, tuple[str, int]]]:
    """First pass: the file's sha256 and the meaning-changing subscribe params (value, line)."""
    digest = hashlib.sha256()
    found: dict[str, tuple[str, int]] = {}
    for n, raw, line in _lines(f, fname, bar):
        digest.update(raw)
        if b'"cmd"' not in line:
            continue
        try:
            frame = _unwrap(line)[1]
            if frame.cmd != "subscribe":
                continue
            value = wire.decode_params(frame.cmd, frame.params).use_yes_price
        except BadInput as exc:
            raise type(exc)(f"{fname}:{n}: {exc}") from None
        if value is None:
            continue
        text = _BOOLS[value]
        prev = found.setdefault("use_yes_price", (text, n))
        if prev[0] != text:
            raise BadInput(f"{fname}:{n}: subscribe: use_yes_price {text} contradicts {prev[0]} on line {prev[1]}")
    return digest.hexdigest(), found


def _merge_params(fname: str, found: dict[str, tuple[str, int]], given: dict[str, str]) -> dict[str, str]:
    for key in MEANING_PARAMS:
        if key in given and given[key] not in ("true", "false"):
            raise BadInput(f"param {key}={given[key]!r}: expected true or false")
    merged = dict(given)
    for key, (value, n) in found.items():
        if merged.setdefault(key, value) != value:
            raise BadInput(f"param {key}={given[key]} contradicts {fname}:{n} (subscribe with {key}={value})")
    return dict(sorted(merged.items()))


def _translate(f: IO[bytes], fname: str, sha: str, name: str, params: dict[str, str], bar: Any) -> _Parsed:
    """Second pass: frames to encoded events, in file order."""
    core = FeedCore(None, use_yes_price=params.get("use_yes_price") == "true", live=False)
    payloads: list[bytes] = []
    frames = 0
    prev_ts: int | None = None
    first_ts = last_ts = 0

    for n, _raw, line in _lines(f, fname, bar):
        if not line.strip():
            continue
        frames += 1
        try:
            ts_recv, frame = _unwrap(line)
            if frame.cmd is not None:
                core.command(frame)
                continue
            inc = core.decode(frame)
            sequenced = frame.type in wire.CHANNEL_OF or (
                frame.type in REPLIES and frame.sid is not None and frame.seq is not None)
            if ts_recv is not None:
                ts = ts_recv
            elif (own := _own_ts(inc.msg)) is not None:
                ts = own
            else:
                ts = prev_ts if prev_ts is not None else 0
            if sequenced or ts_recv is not None:
                prev_ts = ts
            for e in core.apply(inc, ts):
                if not payloads:
                    first_ts = e.ts
                last_ts = e.ts
                payloads.append(encode(e))
        except BadInput as exc:
            raise type(exc)(f"{fname}:{n}: {exc}") from None

    started = SessionStarted(
        ts=first_ts,
        session=name,
        mode="import",
        engine_version=ENGINE_VERSION,
        config={"source": fname, "source_sha256": sha},
        params=params,
    )
    payloads.insert(0, encode(started))
    payloads.append(encode(SessionEnded(ts=last_ts, reason="import complete")))
    namespace = f"import:{sha}"
    batches = [
        (payloads[lo : lo + BATCH_EVENTS], derived_ids(namespace, lo, len(payloads[lo : lo + BATCH_EVENTS])))
        for lo in range(0, len(payloads), BATCH_EVENTS)
    ]
    st = core.stats
    return _Parsed(
        batches=batches,
        frames=frames,
        events=len(payloads),
        gaps=st.gaps + st.duplicates + st.out_of_order,
        dropped=st.dropped,
        skipped=dict(sorted(st.skipped.items())),
        private=dict(sorted(st.private.items())),
    )


def _own_ts(msg: wire.Msg | None) -> int | None:
    """A raw frame's own timestamp in ns: ``msg.ts_ms``, else an older-style ``ts`` (seconds,
    or RFC3339 on a delta); None when it has neither."""
    if msg is None or isinstance(msg, wire.EventFeeUpdate):
        return None
    if msg.ts_ms is not None:
        return exchange_ns(msg.ts_ms)
    if isinstance(msg, wire.OrderbookDelta) and msg.ts is not None:
        return exchange_ns(None, None, msg.ts)
    if isinstance(msg, wire.Trade | wire.MarketLifecycle) and msg.ts is not None:
        return exchange_ns(None, msg.ts)
    return None


def _bar(progress: bool, size: int, desc: str) -> Any:
    if not progress:
        return None
    from ..progress import bar

    return bar(size, desc, unit="B", enabled=True)
