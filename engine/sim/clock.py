"""When a policy is asked: a ``Clock`` of decision points, in market events and/or event time.

Never wall time (DESIGN.md, determinism rule 4): a live session and its re-simulation ask the
policy at the same events. ``engine.sim.stepper`` keeps it.
"""

from __future__ import annotations

import msgspec


class Clock(msgspec.Struct, frozen=True, kw_only=True):
    """Decision points in market events and/or event time (0 = not used; at least one set)."""

    every_events: int = 0
    every_ns: int = 0

    def __post_init__(self) -> None:
        if self.every_events < 0 or self.every_ns < 0 or not (self.every_events or self.every_ns):
            raise ValueError("a clock needs every_events > 0 or every_ns > 0")
