"""The REST API of the local exchange: an ``aiohttp.web`` application under ``/trade-api/v2``.

Every request, in this order (kalshi-protocol.md §1, §0.6, §5):

1. **Authentication**: the three ``KALSHI-ACCESS-*`` headers; with public keys configured, the
   signature over ``timestamp + METHOD + path`` (the path with ``/trade-api/v2``, no query
   string; RSA-PSS or Ed25519, ``engine.live.auth.verify_headers``). Refused: 401.
2. **Rate limit** per key, reads and writes apart (``ratelimit``): 429
   ``{"error":"too many requests"}``, no ``Retry-After``.
3. **Faults** ``http429``/``http500`` (``faults``): refused before anything is done.
4. Writes wait the venue's latency, then act on the key's account; private frames go out; a
   write may then lose its reply (``timeout_after_accept``).

Writes (V2, §0.5 and §5.1): POST/DELETE ``/portfolio/events/orders``, DELETE/amend/decrease
``/portfolio/events/orders/{id}``, POST/DELETE ``/portfolio/events/orders/batched``
(``{"orders": [...]}``, at most 20 items, one ack or ``{"error": {...}}`` per item, charged per
item). The legacy POST ``/portfolio/orders`` answers 410 ``deprecated_v1_order_endpoint``
(§0.5). Reads: ``reads``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import msgspec
from aiohttp import web

from ..live.auth import KEY_HEADER, PublicKey, missing_header, verify_headers
from . import orders
from .account import Account
from .errors import ApiError, bad
from .faults import VenueDice
from .ratelimit import CHEAP_COST, DEFAULT_COST, Limiter
from .reads import READS, Call

PREFIX = "/trade-api/v2"
MAX_BATCH = 20
TOO_MANY = b'{"error":"too many requests"}'
Json = dict[str, Any]
Action = Callable[[Call], tuple[int, Json | None]]
_decode = msgspec.json.Decoder(dict[str, Any])


def _reply(status: int, payload: Json | None) -> web.Response:
    if payload is None:
        return web.Response(status=status)
    return web.Response(status=status, body=msgspec.json.encode(payload), content_type="application/json")


class LocalExchange(Protocol):
    """What the REST layer needs of the exchange it serves (``engine.localx.exchange``, which
    starts this server: the exchange imports the web layer, never the other way)."""

    public_keys: dict[str, PublicKey]
    public_key: PublicKey | None
    require_auth: bool
    limiter: Limiter
    dice: VenueDice
    hang_s: float
    latency_s: float

    def account(self, key_id: str) -> Account: ...

    def push(self) -> None: ...


def authenticate(ex: LocalExchange, request: web.Request) -> str:
    """The request's API key id, or ``ApiError`` 401."""
    headers = request.headers
    key = headers.get(KEY_HEADER, "")
    path = request.raw_path.split("?", 1)[0]
    problem: str | None = None
    if ex.public_keys or ex.public_key is not None:
        public = ex.public_keys.get(key, ex.public_key)
        problem = "unknown key id" if public is None else verify_headers(public, headers, request.method, path)
    elif ex.require_auth:
        problem = missing_header(headers)
    if problem is not None:
        raise ApiError(401, "unauthorized", "authentication failed", problem)
    return key or "anonymous"


async def _body(request: web.Request) -> Json:
    if not request.can_read_body:
        return {}
    raw = await request.read()
    if not raw.strip():
        return {}
    try:
        return _decode.decode(raw)
    except (msgspec.DecodeError, msgspec.ValidationError):
        raise bad("the body must be a JSON object") from None


def endpoint(ex: LocalExchange, act: Action, *, write: bool,
             cost: Callable[[Json], int] | int = DEFAULT_COST) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handle(request: web.Request) -> web.StreamResponse:
        try:
            key = authenticate(ex, request)
            body = await _body(request)
            tokens = cost(body) if callable(cost) else cost
            if not ex.limiter.allow(key, write, tokens, asyncio.get_running_loop().time()):
                return web.Response(status=429, body=TOO_MANY, content_type="application/json")
            refused = ex.dice.refuse()
            if refused == 429:
                return web.Response(status=429, body=TOO_MANY, content_type="application/json")
            if refused == 500:
                raise ApiError(500, "internal_server_error", "internal server error")
            if write and ex.latency_s:
                await asyncio.sleep(ex.latency_s)
            acct = ex.account(key)
            status, payload = act(Call(request, acct, body, acct.state.ts))
        except ApiError as exc:
            ex.push()
            return _reply(exc.status, exc.body())
        ex.push()
        if write and ex.dice.lose_reply():
            if ex.hang_s:
                await asyncio.sleep(ex.hang_s)
            if request.transport is not None:
                request.transport.abort()
            raise ConnectionResetError("timeout_after_accept: the reply is lost")
        return _reply(status, payload)

    return handle


# --- writes ---------------------------------------------------------------------------------


def _create(c: Call) -> tuple[int, Json | None]:
    return 201, orders.place(c.acct, c.body, c.ts)


def _cancel(c: Call) -> tuple[int, Json | None]:
    return 200, orders.cancel(c.acct, c.request.match_info["order_id"], c.ts)


def _amend(c: Call) -> tuple[int, Json | None]:
    return 200, orders.amend(c.acct, c.request.match_info["order_id"], c.body, c.ts)


def _decrease(c: Call) -> tuple[int, Json | None]:
    return 200, orders.decrease(c.acct, c.request.match_info["order_id"], c.body, c.ts)


def _cancel_all(c: Call) -> tuple[int, Json | None]:
    ticker = c.request.query.get("ticker")
    for v in c.acct.resting():
        if ticker is None or v.ticker == ticker:
            orders.cancel(c.acct, v.order_id, c.ts)
    return 204, None


def _items(body: Json) -> list[Any]:
    items = body.get("orders")
    if not isinstance(items, list) or not items:
        raise bad("orders must be a non-empty list")
    if len(items) > MAX_BATCH:
        raise ApiError(400, "batch_too_large", f"at most {MAX_BATCH} orders a batch")
    return items


def _each(items: list[Any], one: Callable[[Json], Json], ident: str) -> list[Json]:
    out: list[Json] = []
    for item in items:
        try:
            if not isinstance(item, dict):
                raise bad("each order must be an object")
            out.append(one(item))
        except ApiError as exc:
            ref = item.get(ident) if isinstance(item, dict) else None
            out.append({ident: ref, "error": exc.body()})
    return out


def _batch_create(c: Call) -> tuple[int, Json | None]:
    return 201, {"orders": _each(_items(c.body), lambda b: orders.place(c.acct, b, c.ts), "client_order_id")}


def _batch_cancel(c: Call) -> tuple[int, Json | None]:
    def one(item: Json) -> Json:
        oid = item.get("order_id")
        if not isinstance(oid, str):
            raise bad("order_id is required")
        return orders.cancel(c.acct, oid, c.ts)

    return 200, {"orders": _each(_items(c.body), one, "order_id")}


def _gone(c: Call) -> tuple[int, Json | None]:
    raise ApiError(410, "deprecated_v1_order_endpoint",
                   "POST /portfolio/orders is deprecated: use POST /portfolio/events/orders")


def _per_item(each: int) -> Callable[[Json], int]:
    def cost(body: Json) -> int:
        items = body.get("orders")
        return each * max(1, len(items)) if isinstance(items, list) else each

    return cost


def build_app(ex: LocalExchange) -> web.Application:
    app = web.Application()
    w, p = PREFIX + "/portfolio/events/orders", PREFIX
    app.router.add_post(w + "/batched", endpoint(ex, _batch_create, write=True, cost=_per_item(DEFAULT_COST)))
    app.router.add_delete(w + "/batched", endpoint(ex, _batch_cancel, write=True, cost=_per_item(CHEAP_COST)))
    app.router.add_post(w, endpoint(ex, _create, write=True))
    app.router.add_delete(w, endpoint(ex, _cancel_all, write=True))
    app.router.add_delete(w + "/{order_id}", endpoint(ex, _cancel, write=True, cost=CHEAP_COST))
    app.router.add_post(w + "/{order_id}/amend", endpoint(ex, _amend, write=True))
    app.router.add_post(w + "/{order_id}/decrease", endpoint(ex, _decrease, write=True))
    app.router.add_post(p + "/portfolio/orders", endpoint(ex, _gone, write=True))
    for path, (read, cost) in READS.items():
        app.router.add_get(p + path, endpoint(ex, read, write=False, cost=cost))
    return app
