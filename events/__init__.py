"""The event vocabulary, its codec, the hash chain, the event store and the .tape file.

Nothing here knows about projections, the engine, asyncio drivers, sockets or torch.
"""

from .types import *  # noqa: F403
from .types import EVENT_TYPES, MARKET_EVENTS, AnyEvent, Event, EventBase

__all__ = ["EVENT_TYPES", "MARKET_EVENTS", "AnyEvent", "Event", "EventBase"]
