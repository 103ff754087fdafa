"""Queue position of our resting orders: how much displayed quantity is ahead of each one.

An order joins the back of its level (``queue_ahead`` = the displayed count there when it
rests). A public print at its level consumes the queue ahead first (``on_print``). When the
recorded level shrinks for any other reason, nobody knows whether the cancelled contracts were
ahead of ours or behind; the queue model decides (``on_level``). Two models, after hftbacktest
(``RiskAdverseQueueModel`` and ``ProbQueueModel`` with ``PowerProbQueueFunc``), chosen per run
(``ExchangeConfig.queue``, recorded in the session-started config as ``queue``):

- ``risk_averse`` (power 0): every cancel is behind us; the queue ahead only shrinks when the
  level falls below it (``queue_ahead = min(queue_ahead, level)``).
- ``prob:N`` (power N >= 1): a decrease of ``d`` contracts (less what prints at the level
  already took off the queue ahead since the last change: the recorded delta that follows a
  print reports the same contracts again) is split between the front and the back in the ratio
  f(front) : f(back), f(x) = x ** N; a share beyond what stands behind us comes off the front
  too. Integer arithmetic, floor division: deterministic everywhere.

An increase of the level is new orders joining behind us: the queue ahead is unchanged.
"""

from __future__ import annotations

from events.errors import InvariantError

from .state import Order

RISK_AVERSE = "risk_averse"
MAX_POWER = 4


def parse_queue(text: str) -> int:
    """``risk_averse`` -> 0, ``prob:N`` -> N (1..4); anything else is an ``InvariantError`` (a
    session recorded with a queue model this engine does not know cannot be replayed)."""
    if text == RISK_AVERSE:
        return 0
    head, _, tail = text.partition(":")
    if head == "prob" and tail.isdigit() and 1 <= int(tail) <= MAX_POWER:
        return int(tail)
    raise InvariantError(f"unknown queue model {text!r} (risk_averse, or prob:N with N in 1..{MAX_POWER})")


def queue_name(power: int) -> str:
    return RISK_AVERSE if power == 0 else f"prob:{power}"


def on_print(o: Order, count: int, power: int) -> None:
    """A public print of ``count`` at the order's level."""
    ahead = o.queue_ahead
    o.queue_ahead = ahead - count if ahead > count else 0
    if power:
        o.traded += count


def on_level(o: Order, before: int, after: int, power: int) -> None:
    """The displayed count at the order's level fell from ``before`` to ``after`` (a level that
    grows is new orders behind ours: nothing to do, and the prints counted since the last
    decrease are still waiting for the decrease that reports them: Kalshi sends prints and book
    deltas on separate subscriptions, so a join may come in between)."""
    if not power:
        if o.queue_ahead > after:
            o.queue_ahead = after
        return
    change = before - after - o.traded
    o.traded = 0 if change >= 0 else -change  # what the decrease did not account for stays counted
    front = o.queue_ahead
    if change > 0:
        back = max(0, before - front)
        f_front, f_back = front**power, back**power
        total = f_front + f_back
        from_front = change * f_front // total if total else change
        from_back = change - from_front
        if from_back > back:  # more left than stood behind us: the rest was ahead
            from_front += from_back - back
        front -= from_front
    if front > after:
        front = after
    o.queue_ahead = front if front > 0 else 0

