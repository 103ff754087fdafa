"""Kalshi's signed REST API (trade-api v2) over ``httpx.AsyncClient``: orders, portfolio, markets.

Every request carries KALSHI-ACCESS-KEY, -TIMESTAMP (ms) and -SIGNATURE over timestamp + METHOD
+ path, where the path includes the base URL's path (``/trade-api/v2/...``) and no query string
(kalshi-protocol.md §1; ``engine.live.auth``). Bodies and replies are ``order_wire``,
``batch_wire``, ``portfolio_wire`` and ``market_wire``: this module only moves bytes.

Retries (``RetryPolicy``):
- a 429 (nothing was done, §0.6) is retried after an exponential, capped backoff, a bounded
  number of times, then ``RateLimited``; a create is retried with the same body, so with the
  same client order id;
- a read (GET) is retried on a 5xx, a failed connection or a timeout, a bounded number of times;
- a write is never retried on anything but a 429: a timeout is ``VenueTimeout`` (outcome
  unknown) and the caller reconciles, re-sending a create only with the SAME client order id.
A 2xx whose body does not parse raises ``BadInput`` naming the field; after a write the change
may then have been made, so the caller reconciles as after a timeout.
Token buckets (``ratelimit``) pace requests before they are sent. Nothing here logs; no
exception carries a header.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TypeVar
from urllib.parse import quote, urlsplit

import httpx
import msgspec

from engine.live.auth import ApiKey
from engine.sim.commands import PlaceOrder
from events.types import Action, Side

from . import batch_wire, market_wire, order_wire, portfolio_wire
from .ratelimit import BASIC, DEFAULT_COST, LIGHT_COST, RateLimiter, RateTier, TokenBucket
from .rest_errors import RateLimited, VenueError, VenueTimeout, VenueUnavailable, venue_error

PROD_REST = "https://external-api.kalshi.com/trade-api/v2"
DEMO_REST = "https://external-api.demo.kalshi.co/trade-api/v2"
"""Kalshi's REST bases (kalshi-protocol §1)."""

T = TypeVar("T")
Page = Callable[[bytes], tuple[tuple[T, ...], str]]


class RetryPolicy(msgspec.Struct, frozen=True, kw_only=True):
    """Bounded retries: ``rate_limited`` more tries after a 429, ``reads`` after a read's 5xx,
    lost connection or timeout; waits ``backoff_s * 2**n`` seconds, at most ``max_backoff_s``."""

    rate_limited: int = 5
    reads: int = 3
    backoff_s: float = 0.25
    max_backoff_s: float = 4.0

    def wait(self, n: int) -> float:
        return min(self.max_backoff_s, self.backoff_s * float(2**n))


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class KalshiRest:
    """A signed client of one Kalshi REST base (kalshi-protocol §1, §5); use ``async with``."""

    def __init__(self, base_url: str, key: ApiKey, *, timeout_s: float = 10.0, tier: RateTier = BASIC,
                 limiter: RateLimiter | None = None, retry: RetryPolicy | None = None, page_size: int = 100,
                 clock_ms: Callable[[], int] = _now_ms,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self._prefix = urlsplit(base_url).path.rstrip("/")
        self._key = key
        self._timeout_s = timeout_s
        self._limits = limiter or RateLimiter(tier, sleep=sleep)
        self._retry = retry or RetryPolicy()
        self._page_size = page_size
        self._clock_ms = clock_ms
        self._sleep = sleep
        self.on_send: Callable[[str, str], None] | None = None  # (method, path) as each attempt leaves (bench)
        self.on_retry: Callable[[VenueError], None] | None = None  # an attempt failed and will be retried
        self._http = httpx.AsyncClient(base_url=base_url.rstrip("/") + "/", timeout=timeout_s)

    async def __aenter__(self) -> KalshiRest:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _call(self, method: str, path: str, *, cost: int = DEFAULT_COST, body: object = None,
                    params: dict[str, str | int] | None = None) -> bytes:
        """One request with its retries; the reply body of a 2xx, else a ``VenueError``."""
        read = method == "GET"
        bucket: TokenBucket = self._limits.read if read else self._limits.write
        content = None if body is None else msgspec.json.encode(body)
        where = f"{method} {self._prefix}{path}"
        limited = failed = 0
        while True:
            await bucket.take(cost)
            headers = self._key.headers(method, self._prefix + path, self._clock_ms())
            if content is not None:
                headers["Content-Type"] = "application/json"
            if self.on_send is not None:
                self.on_send(method, path)
            try:
                resp = await self._http.request(method, path.lstrip("/"), params=params, content=content,
                                                headers=headers)
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
                error: VenueError = VenueUnavailable(0, "connect_failed", type(exc).__name__, where=where)
            except httpx.TransportError as exc:
                error = VenueTimeout(0, "no_answer", f"{type(exc).__name__} within {self._timeout_s}s; "
                                     "outcome unknown", where=where)
            else:
                if resp.status_code < 400:
                    return resp.content
                error = venue_error(resp.status_code, resp.content, where)
            if isinstance(error, RateLimited) and limited < self._retry.rate_limited:
                self._retrying(error)
                await self._sleep(self._retry.wait(limited))
                limited += 1
            elif read and isinstance(error, VenueUnavailable | VenueTimeout) and failed < self._retry.reads:
                self._retrying(error)
                await self._sleep(self._retry.wait(failed))
                failed += 1
            else:
                raise error

    def _retrying(self, error: VenueError) -> None:
        if self.on_retry is not None:
            self.on_retry(error)

    async def _pages(self, path: str, parse: Page[T], params: Mapping[str, str | int | None]) -> tuple[T, ...]:
        """Every page of a cursor-paginated read, in order (OpenAPI ``CursorQuery``)."""
        query: dict[str, str | int] = {k: v for k, v in params.items() if v is not None}
        query["limit"] = self._page_size
        out: list[T] = []
        seen: set[str] = set()
        while True:
            items, cursor = parse(await self._call("GET", path, params=query))
            out.extend(items)
            if not cursor:
                return tuple(out)
            if cursor in seen:
                raise VenueError(200, "cursor_loop", "a cursor came back twice", where=f"GET {self._prefix}{path}")
            seen.add(cursor)
            query["cursor"] = cursor

    # --- order entry (V2, kalshi-protocol §0.5, §5.1) --------------------------------------

    async def create_order(self, cmd: PlaceOrder, client_order_id: str) -> order_wire.CreateAck:
        """``POST /portfolio/events/orders`` (kalshi-protocol §0.5). On ``VenueTimeout`` the
        order may exist: retry only with the same ``client_order_id`` (a 409 then means placed)."""
        body = order_wire.create_body(cmd, client_order_id)
        return order_wire.parse_create_ack(await self._call("POST", "/portfolio/events/orders", body=body))

    async def cancel_order(self, order_id: str) -> order_wire.CancelAck:
        """``DELETE /portfolio/events/orders/{order_id}`` (kalshi-protocol §0.5; costs 2, §0.6)."""
        data = await self._call("DELETE", f"/portfolio/events/orders/{quote(order_id, safe='')}", cost=LIGHT_COST)
        return order_wire.parse_cancel_ack(data)

    async def cancel_all(self) -> None:
        """``DELETE /portfolio/events/orders``: cancels every resting order (kalshi-protocol §0.5)."""
        await self._call("DELETE", "/portfolio/events/orders")

    async def amend_order(self, order_id: str, *, ticker: str, action: Action, side: Side, price: int,
                          total_count: int, client_order_id: str | None = None,
                          updated_client_order_id: str | None = None) -> order_wire.AmendAck:
        """``POST /portfolio/events/orders/{id}/amend`` (kalshi-protocol §0.5, §5.1): ``price`` in
        the order's own leg; ``total_count`` = filled + desired resting."""
        body = order_wire.amend_body(ticker=ticker, action=action, side=side, price=price, total_count=total_count,
                                     client_order_id=client_order_id,
                                     updated_client_order_id=updated_client_order_id)
        data = await self._call("POST", f"/portfolio/events/orders/{quote(order_id, safe='')}/amend", body=body)
        return order_wire.parse_amend_ack(data)

    async def decrease_order(self, order_id: str, *, reduce_by: int | None = None,
                             reduce_to: int | None = None) -> order_wire.AmendAck:
        """``POST /portfolio/events/orders/{id}/decrease``, exactly one of ``reduce_by`` /
        ``reduce_to`` in count units (kalshi-protocol §0.5)."""
        body = order_wire.decrease_body(reduce_by=reduce_by, reduce_to=reduce_to)
        data = await self._call("POST", f"/portfolio/events/orders/{quote(order_id, safe='')}/decrease", body=body)
        return order_wire.parse_amend_ack(data, "decrease reply")

    async def batch_create(self, orders: Sequence[tuple[PlaceOrder, str]]) -> tuple[batch_wire.BatchCreateItem, ...]:
        """``POST /portfolio/events/orders/batched``, charged per item (kalshi-protocol §0.5, §0.6)."""
        body = order_wire.batch_create_body(orders)
        data = await self._call("POST", "/portfolio/events/orders/batched", body=body, cost=DEFAULT_COST * len(orders))
        return batch_wire.parse_batch_create(data)

    async def batch_cancel(self, order_ids: Sequence[str]) -> tuple[batch_wire.BatchCancelItem, ...]:
        """``DELETE /portfolio/events/orders/batched``, charged per item (kalshi-protocol §0.5, §0.6)."""
        body = order_wire.batch_cancel_body(order_ids)
        data = await self._call("DELETE", "/portfolio/events/orders/batched", body=body,
                                cost=LIGHT_COST * len(order_ids))
        return batch_wire.parse_batch_cancel(data)

    # --- reads (OpenAPI operations; kalshi-protocol §5.2-§5.4) -------------------------------

    async def get_order(self, order_id: str) -> portfolio_wire.VenueOrderView:
        """``GET /portfolio/orders/{order_id}`` (OpenAPI ``GetOrder``; costs 2, §0.6)."""
        data = await self._call("GET", f"/portfolio/orders/{quote(order_id, safe='')}", cost=LIGHT_COST)
        return portfolio_wire.parse_order(data)

    async def orders(self, *, status: str | None = None,
                     ticker: str | None = None) -> tuple[portfolio_wire.VenueOrderView, ...]:
        """``GET /portfolio/orders``, every page (OpenAPI ``GetOrders``)."""
        return await self._pages("/portfolio/orders", portfolio_wire.parse_orders, {"status": status, "ticker": ticker})

    async def fills(self, *, ticker: str | None = None, order_id: str | None = None, min_ts: int | None = None,
                    max_ts: int | None = None) -> tuple[portfolio_wire.FillView, ...]:
        """``GET /portfolio/fills``, every page (OpenAPI ``GetFills``; ``*_ts`` Unix seconds)."""
        params = {"ticker": ticker, "order_id": order_id, "min_ts": min_ts, "max_ts": max_ts}
        return await self._pages("/portfolio/fills", portfolio_wire.parse_fills, params)

    async def positions(self, *, ticker: str | None = None, event_ticker: str | None = None,
                        count_filter: str | None = None) -> tuple[portfolio_wire.PositionView, ...]:
        """``GET /portfolio/positions``' ``market_positions``, every page (OpenAPI ``GetPositions``)."""
        params = {"ticker": ticker, "event_ticker": event_ticker, "count_filter": count_filter}
        return await self._pages("/portfolio/positions", portfolio_wire.parse_positions, params)

    async def balance(self) -> portfolio_wire.BalanceView:
        """``GET /portfolio/balance`` (OpenAPI ``GetBalance``; kalshi-protocol §0.5)."""
        return portfolio_wire.parse_balance(await self._call("GET", "/portfolio/balance"))

    async def settlements(self, *, ticker: str | None = None, event_ticker: str | None = None,
                          min_ts: int | None = None,
                          max_ts: int | None = None) -> tuple[portfolio_wire.SettlementView, ...]:
        """``GET /portfolio/settlements``, every page (OpenAPI ``GetSettlements``; §5.4)."""
        params = {"ticker": ticker, "event_ticker": event_ticker, "min_ts": min_ts, "max_ts": max_ts}
        return await self._pages("/portfolio/settlements", portfolio_wire.parse_settlements, params)

    async def market(self, ticker: str) -> market_wire.MarketView:
        """``GET /markets/{ticker}`` (OpenAPI ``GetMarket``; kalshi-protocol §5.4)."""
        return market_wire.parse_market(await self._call("GET", f"/markets/{quote(ticker, safe='')}"))

    async def orderbook(self, ticker: str, depth: int | None = None) -> market_wire.OrderbookView:
        """``GET /markets/{ticker}/orderbook`` (OpenAPI ``GetMarketOrderbook``)."""
        params: dict[str, str | int] | None = None if depth is None else {"depth": depth}
        data = await self._call("GET", f"/markets/{quote(ticker, safe='')}/orderbook", params=params)
        return market_wire.parse_orderbook(data)

    async def exchange_status(self) -> market_wire.ExchangeStatusView:
        """``GET /exchange/status`` (OpenAPI ``GetExchangeStatus``)."""
        return market_wire.parse_exchange_status(await self._call("GET", "/exchange/status"))
