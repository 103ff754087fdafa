"""What ``tradetape trade`` prints when a venue session ends: its state as the venue left it."""

from __future__ import annotations

from typing import Any

from projections.portfolio import portfolio_value

from ..live.client import FeedClient
from .driver import VenueRun


def summary(run: VenueRun, reason: str, client: FeedClient) -> dict[str, Any]:
    """What ``trade`` prints at the end: the session's state as the venue left it."""
    st = run.core.state
    v = st.venue
    s = client.stats
    return {"session": st.session, "mode": "venue", "venue": run.link.venue, "reason": reason, "events": st.seq,
            "starting_cash": st.starting_cash, "cash": st.cash, "portfolio_value": portfolio_value(st),
            "orders_placed": st.stats.orders_placed, "fills": st.stats.fills, "fees": st.stats.fees, "open_orders": len(st.open),
            "orders_cancelled": st.stats.orders_cancelled, "orders_rejected": st.stats.orders_rejected,
            "risk_refusals": v.refusals if v else 0, "halted": v.halted if v else "",
            "reconciliations": [list(r) for r in v.reconciled] if v else [],
            "positions": {m: p.position for m, p in sorted(st.positions.items()) if p.position},
            "frames": s.frames, "gaps": s.gaps, "faults": s.faults, "private": dict(sorted(s.private.items())),
            "duplicate_fill_frames": run.link.duplicates}
