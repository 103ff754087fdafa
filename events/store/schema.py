"""Tables of the event store (the same schema on SQLite and PostgreSQL).

- ``tt_meta``: the format marker (``format = tradetape-store``, ``version = 2``).
- ``tt_sessions``: one row per session; ``head_seq``/``head_hash`` are the stream version and
  the chain head, updated in the same transaction as every append; ``max_id`` is the largest
  event id stored (ids above it need no collision lookup).
- ``tt_chunks``: the events, one row per run of consecutive events (at most
  ``CHUNK_EVENTS``): ``payload`` is a MessagePack array of canonically encoded events, ``ids``
  their 8-byte event ids and ``hashes`` their 32-byte chain hashes, in order.
- ``tt_id_ranges``: the event-id index that makes a retried append a no-op: one row per run of
  consecutive ids in an append, ``id_lo .. id_last`` (inclusive) stored at ``first_seq ..``. Ranges of a
  session never overlap (checked inside the write transaction, which holds the session's write
  lock), so every event id is unique in its session. Writers that hand out consecutive ids
  (``events.ids``) cost one row per batch instead of one per event.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
)

FORMAT = "tradetape-store"
FORMAT_VERSION = 2  # 2: tt_id_ranges holds inclusive runs (id_last)
CHUNK_EVENTS = 4096

metadata = MetaData()

tt_meta = Table(
    "tt_meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", String(256), nullable=False),
)

tt_sessions = Table(
    "tt_sessions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("head_seq", BigInteger, nullable=False, default=0),
    Column("head_hash", LargeBinary, nullable=False),
    Column("max_id", BigInteger, nullable=True),
)

tt_chunks = Table(
    "tt_chunks",
    metadata,
    Column("session_id", Integer, ForeignKey("tt_sessions.id"), primary_key=True),
    Column("first_seq", BigInteger, primary_key=True, autoincrement=False),
    Column("last_seq", BigInteger, nullable=False),
    Column("ids", LargeBinary, nullable=False),
    Column("payload", LargeBinary, nullable=False),
    Column("hashes", LargeBinary, nullable=False),
)

tt_id_ranges = Table(
    "tt_id_ranges",
    metadata,
    Column("session_id", Integer, primary_key=True, autoincrement=False),
    Column("id_lo", BigInteger, primary_key=True, autoincrement=False),
    Column("id_last", BigInteger, nullable=False),
    Column("first_seq", BigInteger, nullable=False),
    sqlite_with_rowid=False,
)
