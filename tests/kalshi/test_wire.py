"""Decoding Kalshi frames: tolerant of unknown fields, strict on types, bounded."""

from __future__ import annotations

import msgspec
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


def test_reply_bodies() -> None:
    """AsyncAPI subscribedResponsePayload, okResponsePayload (update: the full ticker list) and
    errorResponsePayload (code, msg, optional market_ticker(s))."""
    sub = wire.decode_subscribed(wire.decode_frame(b'{"id":1,"type":"subscribed","msg":{"channel":"trade","sid":2}}').msg)
    assert (sub.channel, sub.sid) == ("trade", 2)
    ok = wire.decode_frame(b'{"id":123,"sid":456,"seq":222,"type":"ok","msg":{"market_tickers":["M-1","M-2"]}}')
    assert (ok.sid, ok.seq, wire.decode_ok(ok.msg).market_tickers) == (456, 222, ["M-1", "M-2"])
    assert wire.decode_ok(msgspec.Raw(b"")).market_tickers is None  # skip_ticker_ack: no list
    err = wire.decode_frame(b'{"type":"error","sid":3,"seq":9,"msg":{"code":25,"msg":"Subscription buffer overflow"}}')
    body = wire.decode_error(err.msg)
    assert (err.sid, err.seq, body.code, body.code in wire.TERMINAL_ERRORS) == (3, 9, 25, True)
    assert 10 in wire.TERMINAL_ERRORS and 7 not in wire.TERMINAL_ERRORS
    with pytest.raises(BadInput, match=r"error: .*code"):
        wire.decode_error(msgspec.Raw(b'{"msg":"no code"}'))


def test_command_params_name_markets_sids_and_action() -> None:
    frame = wire.decode_frame(b'{"id":6,"cmd":"update_subscription","params":{"sids":[456],'
                              b'"market_tickers":["NEW-1","NEW-1","NEW-2"],"action":"add_markets"}}')
    p = wire.decode_params("update_subscription", frame.params)
    assert (p.sids, p.action, p.tickers()) == ([456], "add_markets", ("NEW-1", "NEW-2"))
    one = wire.decode_params("subscribe", msgspec.Raw(b'{"channels":["orderbook_delta"],"market_ticker":"M"}'))
    assert one.tickers() == ("M",) and one.channels == ["orderbook_delta"]


FILL = (b'{"trade_id":"t","order_id":"o","market_ticker":"M","is_taker":true,"side":"yes","action":"buy",'
        b'"purchased_side":"yes","outcome_side":"yes","book_side":"bid","yes_price_dollars":"0.1700",'
        b'"count_fp":"5.52","fee_cost":"0.054600","post_position_fp":"5.52","ts":1782907200,"ts_ms":1782907200000}')


def test_private_frames_decode_with_kalshi_s_names_and_exact_numbers() -> None:
    """kalshi-protocol.md §0.7 (the real demo fill: no exchange_index, no client_order_id),
    §3.4-3.6; AsyncAPI fillPayload, userOrderPayload (``ticker``), marketPositionPayload."""
    fill = wire.decode_private("fill", msgspec.Raw(FILL))
    assert isinstance(fill, wire.UserFill) and fill.exchange_index is None and fill.client_order_id is None
    order = wire.decode_private("user_order", msgspec.Raw(
        b'{"order_id":"o","ticker":"M","status":"resting","yes_price_dollars":"0.3500","fill_count_fp":"0.00",'
        b'"remaining_count_fp":"10.00","initial_count_fp":"10.00","taker_fees_dollars":"0.000000"}'))
    assert isinstance(order, wire.UserOrder) and order.ticker == "M"
    pos = wire.decode_private("market_position", msgspec.Raw(
        b'{"market_ticker":"M","position_fp":"-100.00","position_cost_dollars":"50.0000",'
        b'"realized_pnl_dollars":"-10.0000","fees_paid_dollars":"1.0000","volume_fp":"15.00"}'))
    assert isinstance(pos, wire.MarketPosition) and pos.position_fp == "-100.00"  # NO held
    for frame_type, body, error in [
        ("fill", FILL.replace(b'"0.054600"', b'"0.0546001"'), "fill: fee_cost: '0.0546001' has more than 6 decimals"),
        ("fill", FILL.replace(b'"5.52","fee', b'"-5.52","fee'), "fill: count_fp"),
        ("fill", FILL.replace(b'"is_taker":true,', b""), "missing required field `is_taker`"),
        ("user_order", b'{"order_id":"o","market_ticker":"M"}', "missing required field `ticker`"),
        ("market_position", b'{"market_ticker":"M","position_fp":1}', r"Expected `str`, got `int` - at `\$.msg"),
    ]:  # fmt: skip
        with pytest.raises(BadInput, match=error):
            wire.decode_private(frame_type, msgspec.Raw(body))
