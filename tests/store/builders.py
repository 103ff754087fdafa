"""Small event builders for the store tests: a deterministic, varied mix of event types."""

from __future__ import annotations

import random

from events.types import BookDelta, BookSnapshot, EventBase, Fill, OrderPlaced, PublicTrade


def make_events(n: int, *, seed: int = 0, ts0: int = 1_700_000_000_000_000_000) -> list[EventBase]:
    """``n`` events of several types with seeded random fields (prices in $0.0001 units)."""
    rng = random.Random(seed)
    out: list[EventBase] = []
    for i in range(n):
        ts = ts0 + i * 1_000_000
        market = f"KX-{rng.randint(1, 3)}"
        kind = rng.random()
        price = rng.randint(1, 99) * 100
        if kind < 0.55:
            out.append(
                BookDelta(
                    ts=ts, market=market, side=rng.choice(("yes", "no")), price=price, delta=rng.randint(-500, 500)
                )
            )
        elif kind < 0.75:
            out.append(
                PublicTrade(
                    ts=ts,
                    market=market,
                    trade_id=f"t{seed}-{i}",
                    yes_price=price,
                    count=rng.randint(1, 10_000),
                    taker_side=rng.choice(("yes", "no")),
                )
            )
        elif kind < 0.85:
            levels = tuple(sorted((rng.randint(1, 99) * 100, rng.randint(1, 5000)) for _ in range(rng.randint(0, 6))))
            out.append(BookSnapshot(ts=ts, market=market, yes=levels, no=levels[::-1]))
        elif kind < 0.95:
            out.append(
                OrderPlaced(
                    ts=ts,
                    order_id=f"o{seed}-{i}",
                    market=market,
                    action=rng.choice(("buy", "sell")),
                    side=rng.choice(("yes", "no")),
                    price=price,
                    count=rng.randint(1, 1000) * 100,
                )
            )
        else:
            out.append(
                Fill(
                    ts=ts,
                    fill_id=f"f{seed}-{i}",
                    order_id=f"o{seed}-{i}",
                    market=market,
                    action="buy",
                    side="yes",
                    price=price,
                    count=100,
                    fee=rng.randint(0, 7000),
                    liquidity=rng.choice(("maker", "taker")),
                )
            )
    return out
