"""The event store and how to open it."""

from .open import DEFAULT_DB, default_url, discard_created, open_store, redact, resolve_url
from .records import AppendResult, RawChunk, SessionInfo
from .sql import EventStore
from .whole import read_all, read_one

__all__ = [
    "DEFAULT_DB",
    "AppendResult",
    "EventStore",
    "RawChunk",
    "SessionInfo",
    "default_url",
    "discard_created",
    "open_store",
    "read_all",
    "read_one",
    "redact",
    "resolve_url",
]
