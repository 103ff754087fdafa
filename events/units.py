"""Fixed-point units, and exact conversion from Kalshi's decimal strings.

- **price**: integer units of $0.0001 (1 cent = 100, $1 = ``ONE_DOLLAR`` = 10 000).
- **count**: integer units of 0.01 contract (1 contract = ``ONE_CONTRACT`` = 100).
- **money**: integer units of $0.000001, so ``price * count`` is money with no rounding.

Parsing never goes through float: a string with more decimals than the unit holds, a sign
where none is allowed, or anything that is not a plain decimal is a ``UnitError``.
"""

from __future__ import annotations

from .errors import UnitError

PRICE_DECIMALS = 4
COUNT_DECIMALS = 2
MONEY_DECIMALS = 6
MULTIPLIER_DECIMALS = 6  # fee multipliers, in millionths
ONE_DOLLAR = 10_000  # price units
ONE_CONTRACT = 100  # count units
MONEY_PER_DOLLAR = 1_000_000  # money units
CENT = 100  # price units in one cent

UNITS = {
    "price": "integer units of $0.0001 (1 cent = 100, $1 = 10000)",
    "count": "integer units of 0.01 contract (1 contract = 100)",
    "money": "integer units of $0.000001 (price x count = money)",
    "time": "integer nanoseconds since the Unix epoch (event time)",
}

_DIGITS = frozenset("0123456789")


def parse_decimal(text: str, decimals: int, *, signed: bool = False, what: str = "value") -> int:
    """Parse ``text`` (e.g. ``"0.0800"``, ``"-54.00"``, ``"3"``) as an integer of 10**-decimals."""
    if not isinstance(text, str):
        raise UnitError(f"{what}: expected a decimal string, got {type(text).__name__} {text!r}")
    s = text
    neg = False
    if s[:1] in "+-" and s:
        if not signed:
            raise UnitError(f"{what}: sign not allowed in {text!r}")
        neg = s[0] == "-"
        s = s[1:]
    whole, dot, frac = s.partition(".")
    if (not whole and not frac) or (dot and not frac and not whole):
        raise UnitError(f"{what}: not a decimal: {text!r}")
    if not set(whole) <= _DIGITS or not set(frac) <= _DIGITS or (dot and not frac):
        raise UnitError(f"{what}: not a decimal: {text!r}")
    if len(frac) > decimals:
        extra = frac[decimals:]
        if set(extra) != {"0"}:
            raise UnitError(f"{what}: {text!r} has more than {decimals} decimals")
        frac = frac[:decimals]
    if len(whole) > 15:
        raise UnitError(f"{what}: {text!r} is out of range")
    value: int = int(whole or "0") * 10**decimals + int((frac or "0").ljust(decimals, "0"))
    return -value if neg else value


def parse_price(text: str, what: str = "price") -> int:
    """A dollars string such as ``"0.0800"`` to price units (800)."""
    return parse_decimal(text, PRICE_DECIMALS, what=what)


def parse_count(text: str, what: str = "count", *, signed: bool = False) -> int:
    """A contracts string such as ``"113.90"`` to count units (11390)."""
    return parse_decimal(text, COUNT_DECIMALS, signed=signed, what=what)


def parse_multiplier(text: str, what: str = "fee multiplier") -> int:
    """A decimal multiplier such as ``"0.5"`` or ``"1"`` (Kalshi's ``fee_multiplier``) to
    millionths (500 000, 1 000 000), exactly; more than 6 decimals or an exponent is refused."""
    return parse_decimal(text, MULTIPLIER_DECIMALS, what=what)


def parse_money(text: str, what: str = "money", *, signed: bool = False) -> int:
    """A dollars string with up to 6 decimals such as ``"0.010000"`` to money units."""
    return parse_decimal(text, MONEY_DECIMALS, signed=signed, what=what)


def format_fixed(value: int, decimals: int) -> str:
    """Integer fixed point back to a decimal string with exactly ``decimals`` places."""
    sign = "-" if value < 0 else ""
    q, r = divmod(abs(value), 10**decimals)
    return f"{sign}{q}.{r:0{decimals}d}"


def format_price(value: int) -> str:
    return format_fixed(value, PRICE_DECIMALS)


def format_count(value: int) -> str:
    return format_fixed(value, COUNT_DECIMALS)


def format_money(value: int) -> str:
    return format_fixed(value, MONEY_DECIMALS)
