"""Projections: ``evolve`` and every view of the state, pure functions of the tape."""

from .digest import Snapshot, digest, snapshot, view
from .evolve import HANDLERS, evolve, evolve_many, initial_state
from .portfolio import Account, account, liquidation_value, portfolio_value
from .state import State

__all__ = [
    "HANDLERS",
    "Account",
    "Snapshot",
    "State",
    "account",
    "digest",
    "evolve",
    "evolve_many",
    "initial_state",
    "liquidation_value",
    "portfolio_value",
    "snapshot",
    "view",
]
