"""Kalshi's REST errors: ``{"code", "message", "details", "service"}`` (OpenAPI ``ErrorResponse``,
kalshi-protocol.md §5.4) with Kalshi's codes where they are documented, and how the paper
exchange's rejection reasons (``engine.sim.validate``) map onto them.

Documented codes used (pykalshi 2.0.0 ``_base.py`` maps them, §5.4): ``insufficient_balance``,
``market_closed``, ``market_settled``, ``invalid_price``, ``post_only_rejected``,
``self_trade``, ``order_rejected``; ``missing_parameters`` (pykalshi's note on the V2 create
request); ``deprecated_v1_order_endpoint`` (410, §0.5). Ours where Kalshi documents none:
``invalid_parameters`` (400), ``not_found`` (404), ``order_already_exists`` (409, a duplicate
``client_order_id``: "the reply to a duplicate is not documented beyond a 409", §0.5),
``unauthorized`` (401), ``internal_server_error`` (500), ``batch_too_large`` (400).
"""

from __future__ import annotations

from typing import Any

SERVICE = "exchange"


class ApiError(Exception):
    """A request refused with HTTP ``status`` and Kalshi's ``code``; nothing was done."""

    def __init__(self, status: int, code: str, message: str, details: str = "") -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.details = details

    def body(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "details": self.details, "service": SERVICE}


def bad(message: str) -> ApiError:
    return ApiError(400, "invalid_parameters", message)


def missing(field: str) -> ApiError:
    return ApiError(400, "missing_parameters", f"{field} is required")


def not_found(what: str) -> ApiError:
    return ApiError(404, "not_found", f"{what} not found")


def rejection(reason: str) -> ApiError:
    """The paper exchange refused an order or an amendment: Kalshi's code for its reason."""
    r = reason.lower()
    if r == "unknown market":
        return ApiError(404, "not_found", "market not found", reason)
    if r.startswith("insufficient cash"):
        return ApiError(400, "insufficient_balance", "insufficient balance", reason)
    if r in ("market settled", "market determined"):
        return ApiError(400, "market_settled", "market is settled", reason)
    if r.startswith("market "):
        return ApiError(400, "market_closed", "market is not open for trading", reason)
    if r.startswith("price ") or "tick grid" in r:
        return ApiError(400, "invalid_price", "invalid price", reason)
    if r.startswith("post-only"):
        return ApiError(400, "post_only_rejected", "post-only order would cross", reason)
    if r.startswith("duplicate client order id"):
        return ApiError(409, "order_already_exists", "an order with this client_order_id exists", reason)
    if "not whole contracts" in r or r.startswith("count ") or r.startswith("amend count"):
        return bad(reason)
    if r.startswith("unknown order") or r.startswith("order is "):
        return ApiError(404, "not_found", "order not found or no longer open", reason)
    return ApiError(400, "order_rejected", "order rejected", reason)
