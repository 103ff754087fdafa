"""Opening a store from a URL or a path: SQLite by default, PostgreSQL by URL.

``tradetape.db`` or ``sqlite:///path.db`` opens (or, for writers, creates) a SQLite file in WAL
mode with ``synchronous=FULL``; ``postgresql://user@host/db`` opens PostgreSQL through asyncpg.
Readers never create anything: a missing file is an error, not a new empty store. A database
without the tradetape format marker, or with a newer format version, is refused untouched: the
marker is read before anything is written (WAL mode is switched on only after it checks out).
Creating a store is one transaction, so a crash mid-creation leaves no half-marked store.
``readonly=True`` opens the SQLite file with ``mode=ro`` (PostgreSQL: read-only transactions), for
verifiers that must not be able to change what they check.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy import Engine, create_engine, event, pool, select, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, OperationalError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from ..errors import BadInput, StoreOpenError
from .owner import Hold, discard_if_unused, held_descriptor, hold
from .pgurl import pg_connect_args
from .schema import FORMAT, FORMAT_VERSION, metadata, tt_meta
from .sql import SqlStore

DEFAULT_DB = "tradetape.db"
SQLITE_MAGIC = b"SQLite format 3\x00"


def resolve_url(url: str) -> tuple[str, str, Path | None]:
    """(SQLAlchemy URL, dialect, sqlite file path or None) for a user-given URL or path."""
    if "://" not in url:
        path = Path(url)
        return f"sqlite+aiosqlite:///{path}", "sqlite", path
    try:
        u = make_url(url)
        port = u.port
    except (ArgumentError, ValueError):
        raise StoreOpenError(f"cannot parse database URL {redact(url)!r}") from None
    if port is not None and not 0 < port < 65536:
        raise StoreOpenError(f"database URL {redact(url)!r}: port {port} is not 1..65535")
    backend = u.get_backend_name()
    if backend == "sqlite":
        db = u.database or ""
        if not db or db == ":memory:":
            raise StoreOpenError("an in-memory SQLite store would lose every event: give a file path")
        return str(u.set(drivername="sqlite+aiosqlite")), "sqlite", Path(db)
    if backend in ("postgresql", "postgres"):
        return u.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False), "postgresql", None
    raise StoreOpenError(f"unsupported database URL {redact(url)!r}: use a SQLite path or postgresql://")


def redact(url: str) -> str:
    """The URL with any password masked, for messages and logs."""
    try:
        return make_url(url).render_as_string(hide_password=True) if "://" in url else url
    except (ArgumentError, ValueError):
        return "<unparseable url>"


def default_url(url: str | None = None) -> str:
    """The store a command means: ``url``, else ``$TRADETAPE_DB``, else ``tradetape.db``."""
    return url or os.environ.get("TRADETAPE_DB") or DEFAULT_DB


async def open_store(url: str | None = None, *, create: bool = False, readonly: bool = False) -> SqlStore:
    """Open the store at ``url`` (default: ``$TRADETAPE_DB`` or ``tradetape.db``).

    ``create`` makes a missing store; ``readonly`` opens it so that no write can succeed. A
    SQLite store is held (``owner.hold``) until ``close``: no other command can remove it then.
    """
    if create and readonly:
        raise BadInput("a store cannot be both created and opened read-only")
    url = default_url(url)
    sa_url, dialect, path = resolve_url(url)
    shown = redact(url)
    held: Hold | None = None
    if path is not None:
        if path.exists():
            _check_sqlite_file(path, shown)
        elif not create:
            raise StoreOpenError(f"{shown}: no such store (import or record a session first)")
        elif not path.parent.exists():
            raise StoreOpenError(f"{shown}: directory {path.parent} does not exist")
        if readonly and _wal_without_index(path):
            raise StoreOpenError(
                f"{shown}: cannot be read in place: its WAL file holds commits, its index ({path.name}-shm) is "
                "missing and the directory is not writable; copy the store with its -wal file somewhere writable"
            )
        try:
            held = hold(path, create=create, tidy=readonly and not os.path.exists(f"{path}-wal"))
        except FileNotFoundError:
            raise StoreOpenError(f"{shown}: no such store (import or record a session first)") from None
        except OSError as exc:
            raise StoreOpenError(f"{shown}: cannot open: {exc.strerror or exc}") from None
    engine = _engine(sa_url, dialect, path, readonly)
    writer = _sqlite_writer_engine(path) if path is not None and not readonly else None
    store = SqlStore(engine, shown, dialect, writer, held=held)
    try:
        await _check_format(store, create, readonly)
    except BaseException as exc:
        kept = await discard_created(store, path)
        if kept is not None and isinstance(exc, StoreOpenError):
            raise StoreOpenError(f"{exc}; {kept}") from None
        raise
    return store


async def discard_created(store: SqlStore, path: Path | None) -> str | None:
    """Close ``store`` and, if this process created its SQLite file, remove the file when it is
    empty and no other process uses it (``owner.discard_if_unused``). Returns None when there
    was nothing to keep, else one clause saying what was left and why."""
    held = store.held
    await store.close()
    if held is None or path is None or not held.created or store.committed:
        return None  # not ours to remove, or it holds what this command committed: the error says so
    why = discard_if_unused(path, held.key)
    return None if why is None else f"kept the new store {store.url}: {why}"


def _engine(sa_url: str, dialect: str, path: Path | None, readonly: bool) -> Any:
    if dialect == "sqlite":
        target: str | URL = sa_url
        if readonly and path is not None:
            # A SQLite URI so that the file itself is opened read-only: even a bug cannot write.
            query = {"mode": "ro", "uri": "true"}
            if _unwritable_without_wal(path):
                # On a read-only disk or directory SQLite cannot make the WAL index it reads a WAL
                # store through; with no WAL file there, no writer can be at work (one would need
                # to create it), so the file is read as it stands.
                query["immutable"] = "1"
            target = URL.create("sqlite+aiosqlite", database=f"file:{quote(str(path.absolute()))}", query=query)
        engine = create_async_engine(target, isolation_level="AUTOCOMMIT")
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    sa_url, connect_args = pg_connect_args(sa_url)
    if readonly:
        connect_args.setdefault("server_settings", {})["default_transaction_read_only"] = "on"
    return create_async_engine(sa_url, pool_pre_ping=False, connect_args=connect_args)


def _wal_without_index(path: Path) -> bool:
    return (os.path.exists(f"{path}-wal") and not os.path.exists(f"{path}-shm")
            and not os.access(path.absolute().parent, os.W_OK))


def _unwritable_without_wal(path: Path) -> bool:
    return not os.path.exists(f"{path}-wal") and not os.access(path.absolute().parent, os.W_OK)


def _sqlite_writer_engine(path: Path) -> Engine:
    """The pysqlite engine the store's writer thread appends through (see ``append.py``).
    Autocommit at the driver so that the store issues ``BEGIN IMMEDIATE`` itself."""
    engine = create_engine(
        f"sqlite:///{path}",
        isolation_level="AUTOCOMMIT",
        poolclass=pool.StaticPool,
        connect_args={"check_same_thread": False},
    )
    event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # Per-connection settings only. journal_mode=WAL is persistent (it rewrites the file
    # header), so _check_format sets it once the format marker checked out: setting it
    # here would modify a database that is not ours before we refuse it.
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA synchronous=FULL")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA cache_size=-65536")
    cur.close()


def _check_sqlite_file(path: Path, shown: str) -> None:
    if path.is_dir():
        raise StoreOpenError(f"{shown}: is a directory, not a store")
    try:
        head = _head_bytes(path)
    except OSError as exc:
        raise StoreOpenError(f"{shown}: cannot read: {exc.strerror}") from None
    if head and head != SQLITE_MAGIC:
        raise StoreOpenError(f"{shown}: not a SQLite database")


def _head_bytes(path: Path) -> bytes:
    """The file's first 16 bytes, read through this process's descriptor where it holds the
    file already: closing another one would drop SQLite's own locks on it (see ``owner``)."""
    st = os.stat(path)
    fd = held_descriptor((st.st_dev, st.st_ino))
    if fd is not None:
        return os.pread(fd, 16, 0)
    with open(path, "rb") as f:
        return f.read(16)


async def _check_format(store: SqlStore, create: bool, readonly: bool) -> None:
    sqlite = store.dialect == "sqlite"
    try:
        async with store.engine.connect() as conn:
            rows = await _read_marker(conn)
            if rows is None:
                if not create:
                    raise StoreOpenError(f"{store.url}: not a tradetape store (no format marker)")
                if sqlite and await _foreign_tables(conn):
                    # A SQLite file is one store; a database of someone else's is not ours to extend.
                    raise StoreOpenError(f"{store.url}: not a tradetape store (it holds other tables)")
                rows = await _create(conn, sqlite)
            elif sqlite and not readonly:
                await _ensure_wal(conn)
            if conn.in_transaction():
                await conn.commit()
    except StoreOpenError:
        raise
    except (SQLAlchemyError, OSError) as exc:
        orig = getattr(exc, "orig", None) or exc
        raise StoreOpenError(f"cannot open {store.url}: {' '.join(str(orig).split())[:200]}") from None
    if rows.get("format") != FORMAT:
        raise StoreOpenError(f"{store.url}: format marker is {rows.get('format')!r}, not {FORMAT!r}")
    version = rows.get("version", "")
    if not version.isdigit() or int(version) > FORMAT_VERSION:
        raise StoreOpenError(
            f"{store.url}: store format version {version!r} is newer than this tradetape ({FORMAT_VERSION})"
        )
    if int(version) < FORMAT_VERSION:
        raise StoreOpenError(
            f"{store.url}: store format version {version} predates this tradetape ({FORMAT_VERSION}); "
            "export its sessions to .tape with the tradetape that wrote it and import them here"
        )


async def _read_marker(conn: AsyncConnection) -> dict[str, str] | None:
    """The tt_meta rows, or None where there is no tt_meta table (a database that is not ours)."""
    if not await conn.run_sync(lambda c: c.dialect.has_table(c, "tt_meta")):
        return None
    rows = await conn.execute(select(tt_meta.c.key, tt_meta.c.value))
    return {str(key): str(value) for key, value in rows}


async def _foreign_tables(conn: AsyncConnection) -> bool:
    names = await conn.run_sync(lambda c: c.dialect.get_table_names(c))
    return any(not str(n).startswith("tt_") for n in names)


async def _ensure_wal(conn: AsyncConnection, attempts: int = 200) -> None:
    """Put a SQLite store in WAL mode. Switching needs an exclusive lock and SQLite may answer
    "database is locked" at once (without its busy handler) while another process is creating
    the store: read the mode first (no lock needed) and retry the switch for up to ~10 s."""
    for _ in range(attempts):
        mode = (await conn.exec_driver_sql("PRAGMA journal_mode")).scalar()
        if str(mode).lower() == "wal":
            return
        try:
            await conn.exec_driver_sql("PRAGMA journal_mode=WAL")
        except OperationalError as exc:
            if "locked" not in str(exc).lower() and "busy" not in str(exc).lower():
                raise
            await asyncio.sleep(0.05)
    raise StoreOpenError("could not switch the SQLite store to WAL mode: another process holds it locked")


async def _create(conn: AsyncConnection, sqlite: bool) -> dict[str, str]:
    """Create the tables and the marker in ONE transaction (a crash leaves all or nothing).

    Two processes creating the same store at once are serialised (SQLite ``BEGIN IMMEDIATE``,
    PostgreSQL an advisory lock) and the loser finds the winner's marker.
    """
    if sqlite:
        await _ensure_wal(conn)  # not allowed inside a transaction
        await conn.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        if conn.in_transaction():
            await conn.commit()
        await conn.execute(text("SELECT pg_advisory_xact_lock(7354797358394716)"))
    try:
        rows = await _read_marker(conn)
        if rows is None:
            await conn.run_sync(metadata.create_all)
            rows = {"format": FORMAT, "version": str(FORMAT_VERSION)}
            await conn.execute(tt_meta.insert(), [{"key": k, "value": v} for k, v in rows.items()])
    except BaseException:
        if sqlite:
            await conn.exec_driver_sql("ROLLBACK")
        raise
    if sqlite:
        await conn.exec_driver_sql("COMMIT")
    return rows
