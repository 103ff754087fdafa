"""Seeded synthetic Kalshi-like sessions: ``generate(seed, n_events)`` streams domain events.

Ids for storing them: ``event_ids(seed, n_events, start, n)``, i.e.
``events.ids.derived_ids(id_namespace(seed, n_events), start, n)``.
"""

from .generator import GENERATOR, STARTING_CASH, event_ids, generate, id_namespace
from .grid import LINEAR_CENT, TAPERED_DECI_CENT, on_grid

__all__ = [
    "GENERATOR",
    "LINEAR_CENT",
    "STARTING_CASH",
    "TAPERED_DECI_CENT",
    "event_ids",
    "generate",
    "id_namespace",
    "on_grid",
]
