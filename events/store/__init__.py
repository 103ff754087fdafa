"""The event store: the protocol every backend keeps, the SQL and in-memory backends, opening one."""

from .memory import MemoryStore
from .open import DEFAULT_DB, default_url, discard_created, open_store, redact, resolve_url
from .protocol import EventStore
from .records import AppendResult, RawChunk, SessionInfo
from .sql import SqlStore
from .whole import read_all, read_one

__all__ = [
    "DEFAULT_DB",
    "AppendResult",
    "EventStore",
    "MemoryStore",
    "RawChunk",
    "SessionInfo",
    "SqlStore",
    "default_url",
    "discard_created",
    "open_store",
    "read_all",
    "read_one",
    "redact",
    "resolve_url",
]

