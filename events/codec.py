"""The canonical codec: MessagePack for storage, JSON for people.

One Encoder and one typed Decoder, built once. Decoding is strict: unknown fields, wrong types
and unknown tags are rejected, input above ``MAX_EVENT_BYTES`` is refused before decoding, and
pathological nesting (``RecursionError``) becomes a ``DecodeError``. Encoding is deterministic
(dict keys sorted), so the same event always gives the same bytes and the same hash.
"""

from __future__ import annotations

from typing import Any, cast

import msgspec

from .errors import DecodeError
from .types import AnyEvent, Event, EventBase
from .upcast import any_legacy, upcast

MAX_EVENT_BYTES = 1 << 20  # one encoded event
# What msgspec may raise on untrusted bytes: its own errors, RecursionError on deep nesting and
# UnicodeDecodeError on invalid UTF-8 inside a string. Every decoder maps these to one error.
DECODE_ERRORS = (msgspec.DecodeError, msgspec.ValidationError, RecursionError, UnicodeDecodeError)
MAX_CHUNK_BYTES = 1 << 30  # one stored chunk of events

_msgpack_encoder = msgspec.msgpack.Encoder(order="deterministic")
_msgpack_decoder = msgspec.msgpack.Decoder(AnyEvent)
_msgpack_array_decoder = msgspec.msgpack.Decoder(list[AnyEvent])
_raw_array_decoder = msgspec.msgpack.Decoder(list[msgspec.Raw])
_json_encoder = msgspec.json.Encoder(order="deterministic")
_json_decoder = msgspec.json.Decoder(AnyEvent)


def encode(event: EventBase) -> bytes:
    """Canonical MessagePack bytes of one event."""
    try:
        data = _msgpack_encoder.encode(event)
    except OverflowError:
        raise DecodeError(f"{type(event).__name__}: a number is outside the signed 64-bit range") from None
    if len(data) > MAX_EVENT_BYTES:
        raise DecodeError(f"event {type(event).__name__} encodes to {len(data)} bytes, above the {MAX_EVENT_BYTES} limit")
    return data


def decode(data: bytes, where: str = "event") -> Event:
    """Strictly decode one event and upcast it to the current version."""
    if len(data) > MAX_EVENT_BYTES:
        raise DecodeError(f"{where}: {len(data)} bytes is above the {MAX_EVENT_BYTES}-byte event limit")
    try:
        event = _msgpack_decoder.decode(data)
    except DECODE_ERRORS as exc:
        raise DecodeError(f"{where}: {one_line(exc)}") from None
    return cast(Event, upcast(event))


def array_header(n: int) -> bytes:
    """MessagePack array header for ``n`` elements (array 32 form, so it has a fixed size)."""
    return b"\xdd" + n.to_bytes(4, "big")


def join_array(encoded: list[bytes]) -> bytes:
    """Bytes of a MessagePack array whose elements are the already-encoded events."""
    return array_header(len(encoded)) + b"".join(encoded)


def decode_array(data: bytes, where: str = "chunk") -> list[Event]:
    """Decode a MessagePack array of events (one stored chunk) in one call."""
    if len(data) > MAX_CHUNK_BYTES:
        raise DecodeError(f"{where}: {len(data)} bytes is above the chunk limit")
    try:
        events = _msgpack_array_decoder.decode(data)
    except DECODE_ERRORS as exc:
        raise DecodeError(f"{where}: {one_line(exc)}") from None
    if any_legacy(events):
        return [cast(Event, upcast(e)) for e in events]
    return cast(list[Event], events)


def split_array(data: bytes, where: str = "chunk") -> list[bytes]:
    """The encoded bytes of each element of a MessagePack array, without decoding them."""
    return [bytes(r) for r in split_raw(data, where)]


def split_raw(data: bytes, where: str = "chunk") -> list[msgspec.Raw]:
    """``split_array`` as views into ``data`` (``bytes(raw)`` copies one): for a caller that
    needs only a few elements of a large array."""
    try:
        return _raw_array_decoder.decode(data)
    except DECODE_ERRORS as exc:
        raise DecodeError(f"{where}: {one_line(exc)}") from None


def to_json(event: EventBase) -> bytes:
    """Deterministic JSON of one event, for people and for golden files."""
    return _json_encoder.encode(event)


def from_json(data: bytes | str, where: str = "json event") -> Event:
    try:
        event = _json_decoder.decode(data)
    except DECODE_ERRORS as exc:
        raise DecodeError(f"{where}: {one_line(exc)}") from None
    return cast(Event, upcast(event))


def to_builtins(event: EventBase) -> dict[str, Any]:
    """The event as plain dicts and lists (with its ``type`` tag), for JSON output."""
    return cast(dict[str, Any], msgspec.to_builtins(event))


def one_line(exc: BaseException) -> str:
    """A decoding error as one line of text."""
    if isinstance(exc, RecursionError):
        return "input nested too deeply"
    if isinstance(exc, UnicodeDecodeError):
        return f"invalid UTF-8 in a string (byte {exc.start})"
    return " ".join(str(exc).split())
