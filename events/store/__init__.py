"""The event store and how to open it."""

from .open import DEFAULT_DB, default_url, open_store, redact, remove_sqlite_files, resolve_url
from .records import AppendResult, RawChunk, SessionInfo
from .sql import EventStore

__all__ = [
    "DEFAULT_DB",
    "AppendResult",
    "EventStore",
    "RawChunk",
    "SessionInfo",
    "default_url",
    "open_store",
    "redact",
    "remove_sqlite_files",
    "resolve_url",
]
