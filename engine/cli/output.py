"""Writing data to stdout: JSON (sorted keys, exact integers) or short human text."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import msgspec

from events.units import format_count, format_money, format_price

if TYPE_CHECKING:  # annotations only: printing a summary imports no simulator
    from ..sim.runner import Outcome
    from ..venue.summary import VenueSummary

_json = msgspec.json.Encoder(order="sorted")


def emit_json(obj: Any) -> None:
    sys.stdout.buffer.write(msgspec.json.format(_json.encode(obj), indent=2) + b"\n")
    sys.stdout.flush()


def emit_json_line(data: bytes) -> None:
    sys.stdout.buffer.write(data + b"\n")


def dollars(v: int) -> str:
    """Money units as dollars, exact, with at least cents: ``-$1.23``, ``$0.4512``."""
    text = format_money(abs(v)).rstrip("0")
    whole, _, frac = text.partition(".")
    return ("-" if v < 0 else "") + f"${whole}.{frac.ljust(2, '0')}"


def usd(v: int) -> str:
    """Money units as dollars, every digit: ``-$1.230000`` (the demo's walk-through)."""
    return f"{'-' if v < 0 else ''}${format_money(abs(v))}"


def step(n: int, text: str) -> None:
    """A numbered step of a walk-through (``tradetape demo``)."""
    print(f"\n[{n}] {text}")


def indent(text: str) -> str:
    return "\n".join("   " + line for line in text.splitlines())


def pnl_line(s: Outcome | VenueSummary) -> str:
    """One human line for a trading run's summary (simulate, paper, trade), from its exact
    integers: P&L is the portfolio value (marked at the last book) less the starting cash."""
    return (f"{s.session}: P&L {dollars(s.portfolio_value - s.starting_cash)}, fees {dollars(s.fees)}, "
            f"{s.fills} fills; cash {dollars(s.cash)}, portfolio {dollars(s.portfolio_value)} "
            f"(started with {dollars(s.starting_cash)})")


def emit_summary(summary: Outcome | VenueSummary) -> None:
    """A run's summary: JSON on stdout (what scripts read), its dollar line on stderr."""
    emit_json(summary)
    print(pnl_line(summary), file=sys.stderr, flush=True)


def money(v: int | None) -> str:
    return "-" if v is None else "$" + format_money(v)


def price(v: int | None) -> str:
    return "-" if v is None else format_price(v)


def count(v: int | None) -> str:
    return "-" if v is None else format_count(v)


def state_text(view: dict[str, Any]) -> str:
    """A human summary of a projection view."""
    lines = [
        f"session        {view['session']}",
        f"last seq       {view['last_seq']}",
        f"digest         {view['digest']}",
        f"cash           {money(view['cash'])}",
        f"portfolio      {money(view['portfolio_value'])}  (liquidation {money(view['liquidation_value'])})",
        f"P&L            realized {money(view['realized'])}  unrealized {money(view['unrealized'])}  fees {money(view['fees'])}",
    ]
    s = view["stats"]
    lines.append(
        f"execution      fills {s['fills']} (maker {s['maker_fills']}, taker {s['taker_fills']})  "
        f"volume {count(s['volume'])}  fees {money(s['fees'])}  avg fill time {s['avg_fill_time_ns'] / 1e6:.3f} ms"
    )
    if view["positions"]:
        lines.append("positions      market                         position      cost          mark")
        for p in view["positions"]:
            lines.append(
                f"               {p['market']:<30} {count(p['position']):>10} {money(p['cost']):>13} {money(p['mark']):>13}"
            )
    lines.append(f"books          {len(view['books'])} markets (YES bid/ask, NO bid/ask, last trade)")
    for b in view["books"]:
        flag = "STALE " if b["stale"] else ""
        lines.append(
            f"  {b['market']:<30} {flag}{b['status']:<10} yes {price(b['best_yes_bid'])}/{price(b['best_yes_ask'])}"
            f"  no {price(b['best_no_bid'])}/{price(b['best_no_ask'])}  last {price(b['last_trade'])}"
        )
    return "\n".join(lines)
