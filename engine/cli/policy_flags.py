"""``--policy SPEC`` and ``--policy-arg KEY=VALUE``: registered once for every command that runs a
policy (``simulate``, ``evaluate``, ``paper``, ``trade``); the spec is ``engine.strategy.spec``'s."""

from __future__ import annotations

import argparse

from events.errors import BadInput

from ..strategy.spec import SPEC_HELP


def add_policy_flags(p: argparse.ArgumentParser, *, flag: str = "--policy", default: str | None = "hold") -> None:
    p.add_argument(flag, default=default, metavar="SPEC", help=f"{SPEC_HELP} (default {default})")
    p.add_argument("--policy-arg", action="append", default=[], metavar="KEY=VALUE",
                   help="a parameter of a strategy class, passed as params[KEY] (repeatable; recorded in the session)")


def policy_params(items: list[str]) -> dict[str, str]:
    return key_values(items, "--policy-arg")


def key_values(items: list[str], flag: str) -> dict[str, str]:
    """``KEY=VALUE`` options (repeated) as a dict; anything else is one line naming ``flag``."""
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise BadInput(f"{flag} {item!r}: expected KEY=VALUE")
        out[key] = value
    return out
