"""The shadow paper exchange: the paper exchange run beside a venue on the same market data and
the same commands, so that a venue session also measures how far the paper fill model is from
the venue (DESIGN.md, "Trading on the venue").

The shadow is a ``SimCore`` with its own state (it never touches the session's, whose orders,
positions and cash are the venue's). Every place command carries our order id as its
``client_order_id``, so a paper order and its venue twin share that id: the paper order's
``client_order_id`` is the venue session's ``order_id``. Cancels and amends name our id; the
shadow translates it to its paper order's.

It is deterministic: ``shadow_of`` rebuilds it from a recorded venue session alone (its market
events, and the commands that went to the venue in the order they went), so the live shadow
and the one ``audit calibrate`` rebuilds are the same computation.
"""

from __future__ import annotations

from collections.abc import Iterable

import msgspec

from events.errors import BadInput
from events.types import (
    MARKET_EVENTS,
    ActionTaken,
    EventBase,
    OrderPlaced,
    OrderRejected,
    RiskRefused,
    SessionStarted,
    TradingHalted,
)

from ..sim.commands import AmendOrder, CancelOrder, Command, parse_command
from ..sim.config import ExchangeConfig, from_entries
from ..sim.core import SimCore
from ..sim.sink import Events

_MARKET = frozenset(MARKET_EVENTS)


class Shadow:
    def __init__(self, cfg: ExchangeConfig, started: SessionStarted) -> None:
        self.core = SimCore(cfg, str(started.config.get("policy", "policy")))
        self.core.fold([started])
        self.out = Events()  # everything the paper exchange did, in order
        self._twins: dict[str, str] = {}  # our order id -> its paper twin's
        self._seen = 0  # how much of ``out`` the twins were read from

    def market(self, e: EventBase) -> None:
        self.core.market(e, self.out)

    def act(self, cmd: Command, ts: int) -> None:
        """The command as it went to the venue (a place's ``client_order_id`` is our order id)."""
        if isinstance(cmd, CancelOrder | AmendOrder):
            cmd = msgspec.structs.replace(cmd, order_id=self.paper_id(cmd.order_id))
        self.core.act([cmd], ts, self.out)

    def finish(self) -> None:
        """At the end of the data: paper commands still in flight take effect."""
        self.core.flush(self.out)

    def paper_id(self, order_id: str) -> str:
        """The paper order twin of our venue order (the id itself when it has none yet)."""
        out = self.out
        for i in range(self._seen, len(out)):
            e = out[i]
            if isinstance(e, OrderPlaced) and e.client_order_id:
                self._twins[e.client_order_id] = e.order_id
        self._seen = len(out)
        return self._twins.get(order_id, order_id)


def shadow_of(events: Iterable[EventBase], *, finish: bool = True) -> Shadow:
    """Rebuild a venue session's shadow from its log: market events in order, and each command
    the venue was sent (an ``ActionTaken`` not answered at once by ``RiskRefused``,
    ``TradingHalted`` or ``OrderRejected``)."""
    shadow: Shadow | None = None
    pending: list[tuple[int, Command]] = []
    for e in events:
        t = type(e)
        if t is SessionStarted:
            assert isinstance(e, SessionStarted)
            if e.mode != "venue":
                raise BadInput(f"session {e.session!r} is a {e.mode} session: calibration needs a venue session")
            shadow = Shadow(from_entries(e.config), e)
            continue
        if shadow is None:
            raise BadInput("the log does not begin with a session-started event")
        if t in _MARKET:
            _release(shadow, pending)
            shadow.market(e)
        elif t is ActionTaken:
            _release(shadow, pending)
            assert isinstance(e, ActionTaken)
            pending.append((e.ts, parse_command(e.action)))
        elif t is RiskRefused or t is TradingHalted or t is OrderRejected:
            pending.clear()  # refused, the halt, or a cancel of an order not open: it never left
        else:
            _release(shadow, pending)
    if shadow is None:
        raise BadInput("empty log")
    _release(shadow, pending)
    if finish:  # a finished session: paper commands in flight take effect (not on a resume)
        shadow.finish()
    return shadow


def _release(shadow: Shadow, pending: list[tuple[int, Command]]) -> None:
    """Commands recorded as taken go to the shadow at the next event that is not their refusal
    (``RiskRefused`` follows its ``ActionTaken`` at once; a place's ``client_order_id`` in the
    recorded command is already our order id)."""
    for ts, cmd in pending:
        shadow.act(cmd, ts)
    pending.clear()
