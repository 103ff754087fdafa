"""The real NATS server for the fan-out tests (``TRADETAPE_TEST_NATS``, default
nats://127.0.0.1:4222, JetStream on): unreachable skips locally and FAILS when ``CI`` is set.
Every test names its sessions uniquely and deletes the streams it made."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import aclosing, asynccontextmanager, suppress
from pathlib import Path

import pytest
from nats.aio.client import Client as NATS
from nats.js.errors import NotFoundError

from engine.fanout.names import stream_name
from engine.fanout.nats_conn import FanoutError, connect
from engine.fanout.publisher import Item
from events.store import EventStore, open_store

NATS_URL = os.environ.get("TRADETAPE_TEST_NATS", "nats://127.0.0.1:4222")


async def nats_or_skip() -> NATS:
    try:
        nc = await connect(NATS_URL, timeout=3.0, max_reconnect_attempts=0)
        await nc.jetstream().account_info()
        return nc
    except (FanoutError, Exception) as exc:
        msg = f"NATS JetStream at {NATS_URL} is unreachable: {exc}"
        if os.environ.get("CI"):
            pytest.fail(f"{msg} (CI must run the NATS tests, not skip them)")
        pytest.skip(msg)


def unique(prefix: str) -> str:
    return f"{prefix}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


@asynccontextmanager
async def streams_dropped(nc: NATS, *sessions: str) -> AsyncIterator[None]:
    try:
        yield
    finally:
        js = nc.jetstream()
        for s in sessions:
            with suppress(NotFoundError):
                await js.delete_stream(stream_name(s))


async def stream_items(nc: NATS, session: str) -> list[tuple[int, bytes, bytes, str]]:
    """Every message of the session's stream as (stream seq, payload, Tt-Hash, msg id), read
    one by one by sequence (no consumer: what the server holds)."""
    js = nc.jetstream()
    name = stream_name(session)
    last = int((await js.stream_info(name)).state.last_seq)
    out = []
    for seq in range(1, last + 1):
        m = await js.get_msg(name, seq)
        h = m.headers or {}
        out.append((int(m.seq), bytes(m.data or b""), bytes.fromhex(h["Tt-Hash"]), h["Nats-Msg-Id"]))
    return out


async def store_items(store: EventStore, session: str) -> list[Item]:
    from events.codec import split_array

    out: list[Item] = []
    async with aclosing(store.read_chunks(session)) as chunks:
        async for ch in chunks:
            for i, (event_id, payload, h) in enumerate(
                    zip(ch.id_list(), split_array(ch.payload), ch.hash_list(), strict=True)):
                out.append(Item(ch.first_seq + i, event_id, payload, h))
    return out


async def stored_items(db: Path, session: str) -> list[Item]:
    """``store_items`` of a store file, opened read-only for the call."""
    store = await open_store(str(db), readonly=True)
    try:
        return await store_items(store, session)
    finally:
        await store.close()
