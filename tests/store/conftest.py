"""Backends for the store tests: every contract test (one taking ``store``) runs on the in-memory
store, on SQLite and on PostgreSQL; the tests about a SQL store as a place (a URL, a file, a
second handle) take ``sql_store_url`` or ``sql_store`` and run on the two SQL backends.

Memory: a fresh ``MemoryStore``. SQLite: a fresh file under ``tmp_path``. PostgreSQL: the real server (``TRADETAPE_TEST_PG``,
default ``postgresql://postgres@127.0.0.1:5432/test``); each test gets a clean slate as its own
login role whose ``search_path`` is a schema of the same name, created before and dropped after
the test, so tests never see each other's tables (nor anyone else's in ``public``). An
unreachable server skips these tests locally and FAILS them when ``CI`` is set.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
import pytest

from events.store import EventStore, MemoryStore, SqlStore, open_store

PG_ADMIN = os.environ.get("TRADETAPE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
_ROLE_PREFIX = "tt_test_"
_counter = itertools.count()


class PgSlate:
    """A private schema on the test server: ``url`` connects as its role, seeing only it."""

    def __init__(self, admin: asyncpg.Connection, role: str) -> None:
        self.admin = admin
        self.role = role
        base = PG_ADMIN.split("://", 1)[1].split("@", 1)[-1]
        self.url = f"postgresql://{role}@{base}"

    async def drop(self) -> None:
        await self.admin.execute(f"DROP SCHEMA IF EXISTS {self.role} CASCADE")
        await self.admin.execute(f"DROP ROLE IF EXISTS {self.role}")


async def pg_admin() -> asyncpg.Connection:
    """A superuser connection, or skip (locally) / fail (CI) when the server is unreachable."""
    try:
        return await asyncpg.connect(PG_ADMIN, timeout=5)
    except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
        msg = f"PostgreSQL at {PG_ADMIN} is unreachable: {type(exc).__name__}: {exc}"
        if os.environ.get("CI"):
            pytest.fail(f"{msg} (CI must run the PostgreSQL tests, not skip them)")
        pytest.skip(msg)


async def new_slate() -> PgSlate:
    admin = await pg_admin()
    await _drop_orphans(admin)
    role = f"{_ROLE_PREFIX}{os.getpid()}_{next(_counter)}"
    slate = PgSlate(admin, role)
    await slate.drop()
    await admin.execute(f"CREATE ROLE {role} LOGIN")
    await admin.execute(f"CREATE SCHEMA {role} AUTHORIZATION {role}")
    await admin.execute(f"ALTER ROLE {role} SET search_path = {role}")
    return slate


async def _drop_orphans(admin: asyncpg.Connection) -> None:
    """Slates left by a test process that was killed (its pid no longer runs here)."""
    rows = await admin.fetch("SELECT rolname FROM pg_roles WHERE rolname LIKE $1", _ROLE_PREFIX + "%")
    for row in rows:
        pid = row["rolname"][len(_ROLE_PREFIX) :].split("_")[0]
        if pid.isdigit() and int(pid) != os.getpid() and not Path(f"/proc/{pid}").exists():
            await PgSlate(admin, row["rolname"]).drop()


@asynccontextmanager
async def _sql_url(kind: str, tmp_path: Path) -> AsyncIterator[str]:
    """A URL of an empty place for a SQL store of ``kind`` (nothing created yet)."""
    if kind == "sqlite":
        yield str(tmp_path / "store.db")
        return
    slate = await new_slate()
    try:
        yield slate.url
    finally:
        await slate.drop()
        await slate.admin.close()


@pytest.fixture(params=["sqlite", "postgresql"])
async def sql_store_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """For the tests about a SQL store as a place: a second handle, other processes, a file, a
    read-only open. The contract tests take ``store`` instead."""
    async with _sql_url(request.param, tmp_path) as url:
        yield url


@pytest.fixture
async def sql_store(sql_store_url: str) -> AsyncIterator[SqlStore]:
    """An empty SQL store at ``sql_store_url`` (for tests that reach under the protocol)."""
    s = await open_store(sql_store_url, create=True)
    try:
        yield s
    finally:
        await s.close()


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[EventStore]:
    """An empty store of each backend: every test that takes only this runs on all three."""
    if request.param == "memory":
        yield MemoryStore()
        return
    async with _sql_url(request.param, tmp_path) as url:
        s = await open_store(url, create=True)
        try:
            yield s
        finally:
            await s.close()


@pytest.fixture
async def pg_slate() -> AsyncIterator[PgSlate]:
    """A clean PostgreSQL schema, for the tests that are about PostgreSQL only."""
    slate = await new_slate()
    try:
        yield slate
    finally:
        await slate.drop()
        await slate.admin.close()


@pytest.fixture
def sqlite_path(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path / "store.db"
