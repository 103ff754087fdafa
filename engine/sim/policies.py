"""The built-in policies: ``hold``, ``random`` (seeded) and ``script:FILE`` (``engine.strategy.spec``
parses ``--policy``).

A policy sees the state after each market event (with the source seq and event time) and
returns commands. Its only randomness is its own seeded generator; it iterates markets in
sorted order, so the same session and seed give the same commands everywhere.
"""

from __future__ import annotations

import bisect
import random
from pathlib import Path

import msgspec

from events.errors import BadInput
from events.types import Action, Side, TimeInForce
from events.units import ONE_CONTRACT, ONE_DOLLAR, parse_count, parse_price
from projections.books import best_no_bid, best_yes_bid, closed_reason
from projections.orders import open_orders
from projections.state import State

from .clock import Clock
from .commands import AmendOrder, CancelOrder, Command, PlaceOrder
from .strategy import Policy, Strategy

__all__ = ["Hold", "Policy", "RandomPolicy", "ScriptPolicy", "Strategy"]


class Hold(Strategy):
    name = "hold"
    clock = None

    def next_after(self, seq: int) -> int | None:
        return None

    def act(self, st: State, source_seq: int, ts: int) -> list[Command]:
        return []


class RandomPolicy(Strategy):
    """Every ``every`` source events: maybe cross the spread, join the bid, sell what it holds
    or cancel a resting order, in 1-5 contracts, on a live market chosen at random."""

    def __init__(self, seed: int, every: int = 10, clock: Clock | None = None) -> None:
        """``every`` source seqs; or, with ``clock``, on that clock (``evaluate`` puts it on the
        model's, so both decide at the same points)."""
        if clock is None:
            self.name = f"random(seed={seed},every={every})"
        else:
            ns = f",every_ns={clock.every_ns}" if clock.every_ns else ""
            self.name = f"random(seed={seed},every_events={clock.every_events}{ns})"
        self.rng = random.Random(seed)
        self.every = every
        self.clock = clock
        self.seed, self.markets, self.params = seed, (), {}
        self._names: list[str] = []  # market names, sorted; refreshed when a market appears

    def next_after(self, seq: int) -> int | None:
        return (seq // self.every + 1) * self.every

    def act(self, st: State, source_seq: int, ts: int) -> list[Command]:
        rng = self.rng
        choice = rng.random()
        if choice < 0.4:
            return []
        if len(self._names) != len(st.markets):
            self._names = sorted(st.markets)
        market = self._names[rng.randrange(len(self._names))]
        m = st.markets[market]
        if m.stale or closed_reason(m, ts) is not None:
            return []
        n = rng.randrange(1, 6) * ONE_CONTRACT  # randint(1, 5), without its extra call
        side: Side = "yes" if rng.random() < 0.5 else "no"
        own, other = (m.yes, m.no) if side == "yes" else (m.no, m.yes)  # bids: best_yes_bid / best_no_bid
        if choice < 0.65 and other:  # cross the spread
            return [PlaceOrder(market=market, action="buy", side=side, price=ONE_DOLLAR - max(other), count=n, tif="ioc")]
        own_bid = max(own) if own else None
        if choice < 0.8 and own_bid is not None:  # join the bid
            return [PlaceOrder(market=market, action="buy", side=side, price=own_bid, count=n, tif="gtc")]
        p = st.positions.get(market)
        if choice < 0.9 and p is not None and p.position != 0 and own_bid is not None:
            held_side: Side = "yes" if p.position > 0 else "no"
            bid = best_yes_bid(m) if held_side == "yes" else best_no_bid(m)
            if bid is not None:
                return [PlaceOrder(market=market, action="sell", side=held_side, price=bid,
                                   count=min(abs(p.position), n), tif="ioc")]
        resting = open_orders(st)
        if resting:
            return [CancelOrder(order_id=resting[rng.randrange(len(resting))].order_id)]
        return []


class _Line(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    at_seq: int
    cmd: str
    market: str = ""
    action: Action = "buy"
    side: Side = "yes"
    price: str = ""
    count: str = ""
    tif: TimeInForce = "gtc"
    post_only: bool = False
    client_order_id: str = ""
    order_id: str = ""


class ScriptPolicy(Strategy):
    """Commands from a JSONL file: ``{"at_seq": 120, "cmd": "place", "market": "...", "action":
    "buy", "side": "yes", "price": "0.4500", "count": "10.00", "tif": "ioc"}`` or ``{"at_seq":
    300, "cmd": "cancel", "order_id": "O000001"}`` or ``{"at_seq": 400, "cmd": "amend", "order_id":
    "O000002", "price": "0.4400", "count": "6.00"}`` (count = the new total), issued after the
    source event with that seq."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.name = f"script:{path.name}"
        self.clock = None
        self.by_seq: dict[int, list[Command]] = {}
        try:
            lines = path.read_bytes().splitlines()
        except OSError as exc:
            raise BadInput(f"{path}: cannot read the script: {exc.strerror or exc}") from None
        for n, raw in enumerate(lines, 1):
            if not raw.strip():
                continue
            try:
                line = msgspec.json.decode(raw, type=_Line)
                cmd = _command(line)
            except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                raise BadInput(f"{path}:{n}: {' '.join(str(exc).split())}") from None
            except BadInput as exc:
                raise BadInput(f"{path}:{n}: {exc}") from None
            self.by_seq.setdefault(line.at_seq, []).append(cmd)
        self.seqs = sorted(self.by_seq)
        self._next = 0  # index into seqs of the next line not yet issued

    def check(self, head_seq: int) -> None:
        """Refuse, before anything is written, lines the source session can never reach."""
        if self.seqs and self.seqs[-1] > head_seq:
            raise BadInput(f"{self.name}: at_seq {self.seqs[-1]} is past the source session's last seq {head_seq}")

    def next_after(self, seq: int) -> int | None:
        i = bisect.bisect_right(self.seqs, seq)
        return self.seqs[i] if i < len(self.seqs) else None

    def act(self, st: State, source_seq: int, ts: int) -> list[Command]:
        """Every line whose at_seq has been reached and not yet issued: a line whose at_seq is not
        a market event (the session start, say) runs after the first market event past it."""
        out: list[Command] = []
        while self._next < len(self.seqs) and self.seqs[self._next] <= source_seq:
            out.extend(self.by_seq[self.seqs[self._next]])
            self._next += 1
        return out


def _command(line: _Line) -> Command:
    if line.cmd == "place":
        if not line.market:
            raise BadInput("place needs a market")
        return PlaceOrder(market=line.market, action=line.action, side=line.side, price=parse_price(line.price),
                          count=parse_count(line.count), tif=line.tif, post_only=line.post_only,
                          client_order_id=line.client_order_id)
    if line.cmd == "cancel":
        if not line.order_id:
            raise BadInput("cancel needs an order_id")
        return CancelOrder(order_id=line.order_id)
    if line.cmd == "amend":
        if not line.order_id:
            raise BadInput("amend needs an order_id")
        return AmendOrder(order_id=line.order_id, price=parse_price(line.price) if line.price else None,
                          count=parse_count(line.count) if line.count else None)
    raise BadInput(f"unknown cmd {line.cmd!r} (place, cancel or amend)")
