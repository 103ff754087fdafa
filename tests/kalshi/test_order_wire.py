"""order_wire / batch_wire / portfolio_wire / market_wire: bodies from commands and Kalshi's
replies into integer units (kalshi-protocol.md §0.5, §5, §6; OpenAPI schemas)."""

from __future__ import annotations

import re

import msgspec
import pytest

from engine.kalshi import batch_wire, market_wire, order_wire, portfolio_wire
from engine.sim.commands import PlaceOrder
from events.errors import BadInput

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def place(action: str, side: str, price: int, count: int = 1000, **kw: object) -> PlaceOrder:
    return msgspec.convert({"market": "KXT-1", "action": action, "side": side, "price": price, "count": count, **kw},
                           PlaceOrder)


def test_client_order_id_is_deterministic_and_uuid_shaped() -> None:
    a = order_wire.client_order_id("live-1", 7)
    assert a == order_wire.client_order_id("live-1", 7)
    assert UUID.match(a), a
    assert a != order_wire.client_order_id("live-1", 8)
    assert a != order_wire.client_order_id("live-2", 7)
    with pytest.raises(BadInput):
        order_wire.client_order_id("", 0)


@pytest.mark.parametrize(("action", "side", "price", "book", "yes"), [
    ("buy", "yes", 5600, "bid", "0.5600"),   # §6 buy yes: bid
    ("sell", "yes", 5600, "ask", "0.5600"),  # §6 sell yes: ask
    ("buy", "no", 4400, "ask", "0.5600"),    # §6 buy no at q: ask at 1 - q
    ("sell", "no", 4400, "bid", "0.5600"),   # §6 sell no at q: bid at 1 - q
])
def test_create_body_direction_table(action: str, side: str, price: int, book: str, yes: str) -> None:
    body = order_wire.create_body(place(action, side, price), "c0ffee00-0000-8000-8000-000000000000")
    assert body == {"ticker": "KXT-1", "client_order_id": "c0ffee00-0000-8000-8000-000000000000", "side": book,
                    "count": "10.00", "price": yes, "time_in_force": "good_till_canceled",
                    "self_trade_prevention_type": "taker_at_cross"}


def test_create_body_exact_strings_tif_post_only() -> None:
    body = order_wire.create_body(place("buy", "yes", 5, 1, tif="ioc", post_only=True, stp="maker"), "x")
    assert (body["count"], body["price"], body["time_in_force"]) == ("0.01", "0.0005", "immediate_or_cancel")
    assert body["post_only"] is True and body["self_trade_prevention_type"] == "maker"
    assert order_wire.create_body(place("buy", "no", 9999, 11390, tif="fok"), "x")["price"] == "0.0001"
    assert order_wire.create_body(place("buy", "no", 9999, 11390, tif="fok"), "x")["count"] == "113.90"
    assert order_wire.create_body(place("buy", "yes", 100, tif="fok"), "x")["time_in_force"] == "fill_or_kill"
    for bad in (place("buy", "yes", 0), place("buy", "yes", 10_000), place("buy", "yes", 100, 0)):
        with pytest.raises(BadInput):
            order_wire.create_body(bad, "x")


def test_amend_decrease_and_batch_bodies() -> None:
    assert order_wire.amend_body(ticker="KXT-1", action="buy", side="no", price=4000, total_count=500,
                                 updated_client_order_id="u") == {
        "ticker": "KXT-1", "side": "ask", "price": "0.6000", "count": "5.00", "updated_client_order_id": "u"}
    assert order_wire.decrease_body(reduce_by=250) == {"reduce_by": "2.50"}
    assert order_wire.decrease_body(reduce_to=0) == {"reduce_to": "0.00"}
    for kw in ({}, {"reduce_by": 1, "reduce_to": 1}, {"reduce_by": 0}):
        with pytest.raises(BadInput):
            order_wire.decrease_body(**kw)
    batch = order_wire.batch_create_body([(place("buy", "yes", 100), "a"), (place("sell", "no", 100), "b")])
    assert [o["side"] for o in batch["orders"]] == ["bid", "bid"]  # type: ignore[attr-defined]
    assert order_wire.batch_cancel_body(["o1", "o2"]) == {"orders": [{"order_id": "o1"}, {"order_id": "o2"}]}


def test_create_ack_real_format() -> None:
    ack = order_wire.parse_create_ack(b'{"order_id":"ord-1","client_order_id":"c","fill_count":"5.52",'
                                      b'"remaining_count":"4.48","ts_ms":1751400000123,'
                                      b'"average_fill_price":"0.17","average_fee_paid":"0.009891"}')
    assert ack == order_wire.CreateAck(order_id="ord-1", client_order_id="c", fill_count=552, remaining_count=448,
                                       ts_ms=1751400000123, average_fill_price=170_000, average_fee_paid=9891)
    ioc = order_wire.parse_create_ack(b'{"order_id":"o","fill_count":"0.00","remaining_count":"0.00","ts_ms":1}')
    assert (ioc.fill_count, ioc.average_fill_price, ioc.client_order_id) == (0, None, None)


def test_reply_errors_name_the_field() -> None:
    with pytest.raises(BadInput, match="create reply: fill_count"):
        order_wire.parse_create_ack(b'{"order_id":"o","fill_count":"1.234","remaining_count":"0","ts_ms":1}')
    with pytest.raises(BadInput, match="create reply"):
        order_wire.parse_create_ack(b'{"order_id":"o","fill_count":1,"remaining_count":"0","ts_ms":1}')
    with pytest.raises(BadInput, match=r"orders\[0\]: yes_price_dollars"):
        portfolio_wire.parse_orders(b'{"orders":[' + ORDER.replace(b'"0.5600"', b'"0.5x"') + b'],"cursor":""}')


def test_cancel_and_amend_acks() -> None:
    assert order_wire.parse_cancel_ack(b'{"order_id":"o","client_order_id":"c","reduced_by":"10.00","ts_ms":5}') == \
        order_wire.CancelAck(order_id="o", client_order_id="c", reduced_by=1000, ts_ms=5)
    a = order_wire.parse_amend_ack(b'{"order_id":"o","ts_ms":6,"client_order_id":"c","remaining_count":"3.00"}')
    assert (a.remaining_count, a.fill_count) == (300, None)


ORDER = (b'{"order_id":"o1","user_id":"u","client_order_id":"c1","ticker":"KXT-1","side":"no","action":"buy",'
         b'"type":"limit","status":"resting","yes_price_dollars":"0.5600","no_price_dollars":"0.4400",'
         b'"fill_count_fp":"1.00","remaining_count_fp":"9.00","initial_count_fp":"10.00",'
         b'"taker_fees_dollars":"0.017200","maker_fees_dollars":"0.000000","taker_fill_cost_dollars":"0.440000",'
         b'"book_side":"ask","outcome_side":"no","created_time":"2026-07-01T12:00:00Z"}')


def test_order_view_legacy_and_book_side() -> None:
    o = portfolio_wire.parse_order(b'{"order":' + ORDER + b"}")
    assert (o.action, o.side, o.price, o.yes_price) == ("buy", "no", 4400, 5600)
    assert (o.fill_count, o.remaining_count, o.initial_count, o.taker_fees, o.taker_fill_cost) == \
        (100, 900, 1000, 17200, 440000)
    v2 = ORDER.replace(b'"side":"no","action":"buy",', b"")
    o2 = portfolio_wire.parse_order(b'{"order":' + v2 + b"}")
    assert (o2.action, o2.side, o2.price) == ("sell", "yes", 5600)  # ask without legacy: sell YES
    with pytest.raises(BadInput, match="contradicts"):
        portfolio_wire.parse_order(b'{"order":' + ORDER.replace(b'"ask"', b'"bid"') + b"}")


def test_fills_positions_balance_settlements() -> None:
    fills, cursor = portfolio_wire.parse_fills(
        b'{"fills":[{"fill_id":"t1","trade_id":"t1","order_id":"o1","ticker":"KXT-1","market_ticker":"KXT-1",'
        b'"side":"no","action":"buy","count_fp":"1.16","yes_price_dollars":"0.1600","no_price_dollars":"0.8400",'
        b'"is_taker":true,"fee_cost":"0.011000","ts":1751371200}],"cursor":"abc"}')
    assert cursor == "abc"
    assert (fills[0].action, fills[0].side, fills[0].price, fills[0].count, fills[0].fee) == \
        ("buy", "no", 8400, 116, 11000)
    pos, cursor = portfolio_wire.parse_positions(
        b'{"market_positions":[{"ticker":"KXT-1","position_fp":"-3.50","market_exposure_dollars":"1.540000",'
        b'"total_traded_dollars":"1.540000","realized_pnl_dollars":"-0.020000","fees_paid_dollars":"0.030000",'
        b'"resting_orders_count":0,"last_updated_ts":"2026-07-01T12:00:00Z"}],"event_positions":[]}')
    assert cursor == "" and (pos[0].position, pos[0].realized_pnl, pos[0].fees_paid) == (-350, -20000, 30000)
    bal = portfolio_wire.parse_balance(b'{"balance":1234,"balance_dollars":"12.3456","portfolio_value":0,"updated_ts":1}')
    assert (bal.balance_cents, bal.balance) == (1234, 12_345_600)
    assert portfolio_wire.parse_balance(b'{"balance":50,"portfolio_value":0,"updated_ts":1}').balance == 500_000
    with pytest.raises(BadInput, match="disagrees"):
        portfolio_wire.parse_balance(b'{"balance":50,"balance_dollars":"9.00","portfolio_value":0,"updated_ts":1}')
    st, _ = portfolio_wire.parse_settlements(
        b'{"settlements":[{"ticker":"KXT-1","event_ticker":"KXT","market_result":"no","yes_count_fp":"0.00",'
        b'"yes_total_cost_dollars":"0.000000","no_count_fp":"2.00","no_total_cost_dollars":"0.880000",'
        b'"revenue":200,"fee_cost":"0.0300","settled_time":"2026-07-02T00:00:00Z","value":0}]}')
    assert (st[0].no_count, st[0].no_total_cost, st[0].revenue_cents, st[0].fee_cost) == (200, 880000, 200, 30000)


def test_batch_replies() -> None:
    items = batch_wire.parse_batch_create(
        b'{"orders":[{"client_order_id":"a","order_id":"o1","fill_count":"0.00","remaining_count":"1.00",'
        b'"ts_ms":9},{"client_order_id":"b","error":{"code":"insufficient_balance","message":"no money"}}]}')
    assert items[0].ack is not None and items[0].ack.remaining_count == 100
    assert items[1].ack is None and items[1].error is not None and items[1].error.code == "insufficient_balance"
    c = batch_wire.parse_batch_cancel(b'{"orders":[{"order_id":"o1","reduced_by":"1.00"},'
                                      b'{"order_id":"o2","reduced_by_fp":"0.00","error":{"code":"not_found"}}]}')
    assert [(i.order_id, i.reduced_by, i.error is None) for i in c] == [("o1", 100, True), ("o2", 0, False)]


def test_market_orderbook_status() -> None:
    m = market_wire.parse_market(b'{"market":{"ticker":"KXT-1","event_ticker":"KXT","status":"finalized",'
                                 b'"result":"no","settlement_value_dollars":"0.0000","yes_bid_dollars":"0.0100",'
                                 b'"price_level_structure":"tapered_deci_cent","price_ranges":[{"start":"0.0000",'
                                 b'"end":"0.1000","step":"0.0010"}],"title":"ignored"}}')
    assert (m.status, m.result, m.settlement_value, m.yes_bid, m.price_ranges) == \
        ("finalized", "no", 0, 100, ((0, 1000, 10),))
    book = market_wire.parse_orderbook(b'{"orderbook_fp":{"yes_dollars":[["0.1500","100.00"]],"no_dollars":[]}}')
    assert book == market_wire.OrderbookView(yes=((1500, 10000),), no=())
    s = market_wire.parse_exchange_status(b'{"exchange_active":true,"trading_active":false}')
    assert (s.exchange_active, s.trading_active) == (True, False)
