"""The paper exchange's settings: fees per market, an order latency in event time, and the
queue model, all recorded in the session-started config (``entries``) so that a replay, a
parity check or a resume runs the exchange a session ran with (``from_entries``)."""

from __future__ import annotations

import msgspec

from events.errors import BadInput, InvariantError
from projections.queue import RISK_AVERSE, parse_queue

from .fees import DEFAULT_TABLE, FeeTable

DEFAULT_TICKS = ((0, 10_000, 100),)  # one cent everywhere, when a market never told us its grid


class ExchangeConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``latency_ns``: an order decided at event time t takes effect at t + latency (the runner
    holds it until the market data passes that time). ``queue``: ``risk_averse`` or ``prob:N``
    (``projections.queue``)."""

    fees: FeeTable = DEFAULT_TABLE
    latency_ns: int = 0
    queue: str = RISK_AVERSE

    def __post_init__(self) -> None:
        if self.latency_ns < 0:
            raise BadInput(f"latency {self.latency_ns} ns must not be negative")
        try:
            parse_queue(self.queue)
        except InvariantError as exc:
            raise BadInput(f"--queue: {exc}") from None


def entries(cfg: ExchangeConfig) -> dict[str, str]:
    """The session-started config entries that record ``cfg``."""
    return {"latency_ns": str(cfg.latency_ns), "fees": msgspec.json.encode(cfg.fees).decode(), "queue": cfg.queue}


def from_entries(config: dict[str, str]) -> ExchangeConfig:
    """The ``ExchangeConfig`` a session-started config records (defaults for what it lacks)."""
    fees = DEFAULT_TABLE
    if "fees" in config:
        try:
            fees = msgspec.json.decode(config["fees"], type=FeeTable)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise BadInput(f"the session's fee table cannot be read by this engine: {exc}") from None
    return ExchangeConfig(fees=fees, latency_ns=int(config.get("latency_ns", "0")),
                          queue=config.get("queue", RISK_AVERSE))
