"""Write your own strategy: subclass ``Strategy``, return commands from ``act``.

```python
from engine.strategy import Clock, PlaceOrder, Strategy, best_ask, contracts, price, tradable

class BuyCheap(Strategy):
    clock = Clock(every_events=20)  # asked after every 20th market event (or every_ns=...)

    def act(self, st, source_seq, ts):
        out = []
        for market in sorted(st.markets):
            ask = best_ask(st, market)
            if tradable(st, market, ts) and ask is not None and ask <= price("0.10"):
                out.append(PlaceOrder(market=market, action="buy", side="yes", price=ask,
                                      count=contracts(1), tif="ioc"))
        return out
```

``tradetape simulate SESSION --policy path/to/file.py:BuyCheap`` (or ``package.module:BuyCheap``)
runs it; so do ``evaluate``, ``paper`` and ``trade``. The contract is ``engine.sim.strategy``.
"""

from events.units import ONE_CONTRACT, ONE_DOLLAR
from projections.state import Order, State

from ..sim.clock import Clock
from ..sim.commands import AmendOrder, CancelOrder, Command, PlaceOrder
from ..sim.strategy import Policy, Strategy
from .helpers import (
    best_ask,
    best_bid,
    cash,
    contracts,
    count_contracts,
    mid,
    money,
    money_dollars,
    open_orders,
    position,
    price,
    price_dollars,
    tradable,
)

__all__ = [
    "ONE_CONTRACT",
    "ONE_DOLLAR",
    "AmendOrder",
    "CancelOrder",
    "Clock",
    "Command",
    "Order",
    "PlaceOrder",
    "Policy",
    "State",
    "Strategy",
    "best_ask",
    "best_bid",
    "cash",
    "contracts",
    "count_contracts",
    "mid",
    "money",
    "money_dollars",
    "open_orders",
    "position",
    "price",
    "price_dollars",
    "tradable",
]
