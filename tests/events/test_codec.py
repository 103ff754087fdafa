"""The canonical codec: strict decoding, deterministic bytes, upcasting of frozen old versions."""

from pathlib import Path

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from events.codec import MAX_EVENT_BYTES, decode, decode_array, encode, from_json, join_array, to_json
from events.errors import DecodeError
from events.types import EVENT_TYPES, BookDelta, BookSnapshot, SessionStarted, SessionStartedV1
from events.upcast import UPCASTERS

FIXTURES = Path(__file__).parent / "fixtures"


def test_frozen_v1_fixture_decodes_into_the_current_type():
    data = (FIXTURES / "session_started.v1.msgpack").read_bytes()
    e = decode(data)
    assert type(e) is SessionStarted
    assert (e.session, e.mode, e.seed, e.starting_cash) == ("legacy", "record", 7, 5_000_000)
    assert e.config == {"feed": "kalshi"}
    assert e.params == {"use_yes_price": "false"}
    # the same bytes inside a stored chunk are upcast too
    [e2] = decode_array(join_array([data]))
    assert e2 == e


def test_removing_the_upcaster_breaks_the_fixture(monkeypatch):
    monkeypatch.delitem(UPCASTERS, SessionStartedV1)
    e = decode((FIXTURES / "session_started.v1.msgpack").read_bytes())
    assert type(e) is not SessionStarted


def test_every_event_type_has_a_versioned_stable_tag():
    tags = [c.__struct_config__.tag for c in EVENT_TYPES]
    assert len(set(tags)) == len(tags)
    assert all(t.rsplit(".v", 1)[1].isdigit() for t in tags)


def _raw(**fields):
    return msgspec.msgpack.encode(fields)


@pytest.mark.parametrize("data, what", [
    (_raw(type="book_delta.v1", ts=1, market="M", side="yes", price=1, delta=1, extra=1), "unknown field"),
    (_raw(type="book_delta.v1", ts=1, market="M", side="yes", price="100", delta=1), "str for int"),
    (_raw(type="book_delta.v1", ts=1, market="M", side="yes", price=1.5, delta=1), "float for int"),
    (_raw(type="book_delta.v1", ts=1, market="M", side="up", price=1, delta=1), "bad literal"),
    (_raw(type="book_delta.v1", ts=1, market="M", side="yes", price=True, delta=1), "bool for int"),
    (_raw(type="book_delta.v9", ts=1), "unknown tag"),
    (_raw(ts=1, market="M"), "no tag"),
    (b"\xc1", "invalid msgpack"),
    (encode(BookDelta(ts=1, market="M", side="yes", price=1, delta=1))[:-1], "truncated"),
    (b"\x91" * 100_000 + b"\x00", "deep nesting"),
])
def test_strict_decoding_rejects(data, what):
    with pytest.raises(DecodeError):
        decode(data, where=what)


def test_oversize_input_is_refused_before_decoding():
    with pytest.raises(DecodeError, match="limit"):
        decode(b"\x00" * (MAX_EVENT_BYTES + 1))


def test_encoding_is_deterministic_for_dicts():
    a = SessionStarted(ts=1, session="s", mode="m", engine_version="v", config={"b": "1", "a": "2"})
    b = SessionStarted(ts=1, session="s", mode="m", engine_version="v", config={"a": "2", "b": "1"})
    assert encode(a) == encode(b)


levels = st.lists(st.tuples(st.integers(1, 9999), st.integers(1, 10**9)), max_size=5).map(tuple)


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.integers(0, 2**62), st.text(max_size=40), levels, levels)
def test_roundtrip_msgpack_and_json(ts, market, yes, no):
    e = BookSnapshot(ts=ts, market=market, yes=yes, no=no)
    assert decode(encode(e)) == e
    assert from_json(to_json(e)) == e
    assert encode(decode(encode(e))) == encode(e)
