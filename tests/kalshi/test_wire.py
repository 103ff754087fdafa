"""Decoding Kalshi frames: tolerant of unknown fields, strict on types, bounded."""

from __future__ import annotations

import pytest

from engine.kalshi import wire
from events.errors import BadInput


def test_envelope_and_msg_decode_with_unknown_fields() -> None:
    line = (
        b'{"type":"orderbook_delta","sid":2,"seq":3,"new_top_level":1,"msg":{"market_ticker":"M",'
        b'"market_id":"x","price_dollars":"0.9600","delta_fp":"-54.00","side":"yes","brand_new":[1,{"a":2}]}}'
    )
    frame = wire.decode_frame(line)
    assert (frame.type, frame.sid, frame.seq) == ("orderbook_delta", 2, 3)
    m = wire.decode_msg("orderbook_delta", frame.msg)
    assert isinstance(m, wire.OrderbookDelta) and m.price_dollars == "0.9600"


def test_ok_reply_with_list_msg_decodes_as_envelope() -> None:
    frame = wire.decode_frame(b'{"id":3,"type":"ok","msg":[{"channel":"trade","sid":1}]}')
    assert (frame.type, frame.id) == ("ok", 3)


@pytest.mark.parametrize(
    ("frame_type", "body", "error"),
    [
        (
            "orderbook_delta",
            b'{"market_ticker":"M","price_dollars":96,"delta_fp":"1.00","side":"yes"}',
            r"Expected `str \| null`, got `int` - at `\$.msg.price_dollars`",
        ),
        (
            "orderbook_delta",
            b'{"market_ticker":"M","price_dollars":"0.96","delta_fp":"1.00","side":"maybe"}',
            "Invalid enum value 'maybe'",
        ),
        ("trade", b'{"market_ticker":"M"}', "missing required field `trade_id`"),
        ("orderbook_snapshot", b'{"market_ticker":"M","yes_dollars_fp":[["0.01"]]}', "length 2"),
    ],
)
def test_msg_type_errors(frame_type: str, body: bytes, error: str) -> None:
    raw = wire.decode_frame(b'{"type":"x","msg":' + body + b"}").msg
    with pytest.raises(BadInput, match=error) as info:
        wire.decode_msg(frame_type, raw)
    assert str(info.value).startswith(frame_type)


def test_invalid_json_deep_nesting_and_size_are_clean_errors() -> None:
    with pytest.raises(BadInput, match="truncated"):
        wire.decode_frame(b'{"type":')
    with pytest.raises(BadInput, match="nested too deeply"):
        wire.decode_frame(b'{"type":"x","msg":' + b"[" * 100_000 + b"]" * 100_000 + b"}")
    with pytest.raises(BadInput, match="limit"):
        wire.decode_frame(b" " * (wire.MAX_FRAME_BYTES + 1))
    with pytest.raises(BadInput, match="sid"):
        wire.decode_frame(b'{"type":"trade","sid":true}')


def test_subscribe_params_strict_bool() -> None:
    frame = wire.decode_frame(
        b'{"id":1,"cmd":"subscribe","params":{"channels":["orderbook_delta"],"use_yes_price":true}}'
    )
    assert wire.decode_params("subscribe", frame.params).use_yes_price is True
    bad = wire.decode_frame(b'{"id":1,"cmd":"subscribe","params":{"use_yes_price":"true"}}')
    with pytest.raises(BadInput, match=r"params\.use_yes_price"):
        wire.decode_params("subscribe", bad.params)
