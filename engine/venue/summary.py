"""What ``tradetape trade`` prints when a venue session ends: its state as the venue left it."""

from __future__ import annotations

import msgspec

from projections.portfolio import portfolio_value

from ..live.client import FeedClient
from .driver import VenueRun


class VenueSummary(msgspec.Struct, kw_only=True):
    """A venue session's end (money in engine units, counts in 0.01 contract). ``mode`` is always
    ``"venue"``; ``reconciliations`` are (trigger, decision, differences) as recorded; ``positions``
    the non-flat ones by market; ``private`` the private-channel messages by channel."""

    session: str
    mode: str
    venue: str
    reason: str
    events: int
    starting_cash: int
    cash: int
    portfolio_value: int
    orders_placed: int
    fills: int
    fees: int
    open_orders: int
    orders_cancelled: int
    orders_rejected: int
    risk_refusals: int
    halted: str
    reconciliations: list[tuple[str, str, int]]
    positions: dict[str, int]
    frames: int
    gaps: int
    faults: int
    private: dict[str, int]
    duplicate_fill_frames: int


def summary(run: VenueRun, reason: str, client: FeedClient) -> VenueSummary:
    """What ``trade`` prints at the end: the session's state as the venue left it."""
    st = run.core.state
    v = st.venue
    s = client.stats
    return VenueSummary(
        session=st.session, mode="venue", venue=run.link.venue, reason=reason, events=st.seq,
        starting_cash=st.starting_cash, cash=st.cash, portfolio_value=portfolio_value(st),
        orders_placed=st.stats.orders_placed, fills=st.stats.fills, fees=st.stats.fees, open_orders=len(st.open),
        orders_cancelled=st.stats.orders_cancelled, orders_rejected=st.stats.orders_rejected,
        risk_refusals=v.refusals if v else 0, halted=v.halted if v else "",
        reconciliations=list(v.reconciled) if v else [],
        positions={m: p.position for m, p in sorted(st.positions.items()) if p.position},
        frames=s.frames, gaps=s.gaps, faults=s.faults, private=dict(sorted(s.private.items())),
        duplicate_fill_frames=run.link.duplicates)
