"""Which book level an order rests on, and which level a fill or a public trade took from.

The book holds YES bids and NO bids; a level is ``(book_side, price)`` with the price in that
side's own leg. A YES ask at p is a NO bid at $1 - p, so:

- an order *rests* on: buy YES p -> ("yes", p); buy NO p -> ("no", p);
  sell YES p -> ("no", $1 - p); sell NO p -> ("yes", $1 - p);
- a taker *takes from* the opposite level: buy YES at y -> ("no", $1 - y); buy NO at n ->
  ("yes", $1 - n); sell YES at y -> ("yes", y); sell NO at n -> ("no", n);
- a public trade with ``taker_side`` yes took NO bids at $1 - yes_price; with ``no`` it took
  YES bids at yes_price.
"""

from __future__ import annotations

from events.types import Action, PublicTrade, Side
from events.units import ONE_DOLLAR

Level = tuple[Side, int]


def rest_level(action: Action, side: Side, price: int) -> Level:
    if action == "buy":
        return side, price
    return ("no" if side == "yes" else "yes"), ONE_DOLLAR - price


def take_level(action: Action, side: Side, price: int) -> Level:
    if action == "sell":
        return side, price
    return ("no" if side == "yes" else "yes"), ONE_DOLLAR - price


def trade_level(e: PublicTrade) -> Level:
    if e.taker_side == "yes":
        return "no", ONE_DOLLAR - e.yes_price
    return "yes", e.yes_price
