"""The watchers' endpoint over real loopback sockets (RELIABILITY test plan H5-H9). No mocks, no timed assertions."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import gc
import inspect
import logging
import os
import pickle
import socket
import weakref
from collections.abc import AsyncIterator, Callable

import pytest
import structlog
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, ConnectionClosedError, InvalidStatus

from engine.live.broadcast import Broadcaster
from events.errors import BadInput

TOKEN = "watch-token-5f0c2a9d81e34b7a"
BIG = "x" * (128 * 1024)  # large frames fill socket buffers in tens of messages, not thousands


async def until(condition: Callable[[], bool], what: str) -> None:
    """Wait for a condition driven by the other side of a socket (a hang guard, not a speed check)."""
    for _ in range(2000):
        if condition():
            return
        await asyncio.sleep(0.005)
    raise AssertionError(f"never happened: {what}")


@pytest.fixture
async def bc() -> AsyncIterator[Broadcaster]:
    async with Broadcaster(TOKEN, queue_size=8) as b:
        yield b


def url(b: Broadcaster, query: str = f"?token={TOKEN}") -> str:
    return f"ws://127.0.0.1:{b.port}/{query}"


async def raw_upgrade(port: int, lines: list[str], *, rcvbuf: int | None = None,
                      ) -> tuple[bytes, asyncio.StreamReader, asyncio.StreamWriter]:
    """A hand-written upgrade request (to send headers a real client would not), then no more reading."""
    sock = socket.socket()
    if rcvbuf is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
    reader, writer = await asyncio.open_connection(sock=sock)
    key = base64.b64encode(os.urandom(16)).decode()
    head = ["GET /?token=" + TOKEN + " HTTP/1.1", "Upgrade: websocket", "Connection: Upgrade",
            f"Sec-WebSocket-Key: {key}", "Sec-WebSocket-Version: 13", *lines]
    writer.write(("\r\n".join(head) + "\r\n\r\n").encode())
    response = await reader.readuntil(b"\r\n\r\n")
    return response.split(b"\r\n", 1)[0], reader, writer


async def shut(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()


# --- authentication (H7) ---


@pytest.mark.parametrize("query,headers", [
    ("", {}),
    ("?token=wrong-token-0000000000", {}),
    (f"?token={TOKEN}x", {}),
    ("", {"Authorization": "Bearer wrong-token-0000000000"}),
    ("", {"Authorization": f"Basic {TOKEN}"}),
    (f"?token={TOKEN}", {"Authorization": "Bearer wrong-token-0000000000"}),
])
async def test_missing_or_wrong_token_gets_401(bc: Broadcaster, query: str, headers: dict[str, str]) -> None:
    with pytest.raises(InvalidStatus) as e:
        async with connect(url(bc, query), additional_headers=headers):
            pass
    assert e.value.response.status_code == 401
    assert bc.stats["rejected"] == 1 and bc.stats["clients"] == 0


async def test_token_in_header_or_query_receives_messages_in_order(bc: Broadcaster) -> None:
    async with connect(url(bc, ""), additional_headers={"Authorization": f"Bearer {TOKEN}"}) as a, \
            connect(url(bc)) as b:
        await until(lambda: bc.stats["clients"] == 2, "both clients registered")
        sent = [f'{{"seq":{i}}}' for i in range(200)]
        for i, m in enumerate(sent):
            bc.publish(m if i % 2 else m.encode())  # str and UTF-8 bytes both arrive as text
            if i % 8 == 7:
                await asyncio.sleep(0)  # let the senders drain: queue_size is 8
        for ws in (a, b):
            assert [await ws.recv() for _ in sent] == sent
    assert bc.stats["published"] == 200 and bc.stats["sent"] == 400 and bc.stats["dropped_clients"] == 0


async def test_late_joiner_gets_hello_then_latest(bc: Broadcaster) -> None:
    bc.set_hello(b'{"type":"hello","session":"paper-1"}')
    for i in range(3):
        bc.set_latest(f'{{"type":"snapshot","seq":{i}}}')
        bc.publish(f'{{"type":"snapshot","seq":{i}}}')
    async with connect(url(bc)) as ws:
        assert await ws.recv() == '{"type":"hello","session":"paper-1"}'
        assert await ws.recv() == '{"type":"snapshot","seq":2}'
        bc.publish('{"type":"fill"}')
        assert await ws.recv() == '{"type":"fill"}'


# --- slow consumers (H9) ---


async def stream_until_dropped(bc: Broadcaster, fast: ClientConnection) -> int:
    """Publish big frames in step with the fast client until the slow one is dropped; return the count."""
    n = 0
    while bc.stats["dropped_clients"] == 0:
        assert n < 2000, "the slow client was never dropped"
        bc.publish(f"{n:06d}{BIG}")
        assert (await fast.recv())[:6] == f"{n:06d}"
        assert bc.stats["queued"] <= 2 * 8  # bounded by clients x queue_size
        n += 1
    for _ in range(20):  # the fast client carries on, unaffected
        bc.publish(f"{n:06d}")
        assert await fast.recv() == f"{n:06d}"
        n += 1
    return n


async def test_paused_client_is_dropped_with_1013_and_its_queue_released(bc: Broadcaster) -> None:
    assert not inspect.iscoroutinefunction(Broadcaster.publish)
    async with connect(url(bc)) as fast, connect(url(bc), max_queue=1) as slow:  # slow: never reads, for now
        await until(lambda: bc.stats["clients"] == 2, "both clients registered")
        [slow_side] = [c for c in bc._clients if c.ws.remote_address == slow.local_address]
        ref = weakref.ref(slow_side)
        n = await stream_until_dropped(bc, fast)
        assert not slow_side.pending  # the backlog went with the drop
        del slow_side
        stats = bc.stats
        assert (stats["clients"], stats["published"], stats["dropped_clients"], stats["queued"]) == (1, n, 1, 0)
        assert n <= stats["sent"] < 2 * n  # the fast client got all n, the slow one fewer
        with pytest.raises(ConnectionClosedError) as e:  # reading again, it finds the close frame
            while True:
                await slow.recv()
        assert e.value.rcvd is not None and (e.value.rcvd.code, e.value.rcvd.reason) == (1013, "too slow")
        await until(lambda: gc.collect() >= 0 and ref() is None, "dropped client garbage-collected")


async def test_client_that_never_reads_is_dropped(bc: Broadcaster) -> None:
    async with connect(url(bc)) as fast:
        status, _, writer = await raw_upgrade(bc.port, [f"Host: 127.0.0.1:{bc.port}"], rcvbuf=4096)
        assert status == b"HTTP/1.1 101 Switching Protocols"
        await until(lambda: bc.stats["clients"] == 2, "both clients registered")
        n = await stream_until_dropped(bc, fast)
        assert bc.stats["clients"] == 1 and bc.stats["dropped_clients"] == 1 and bc.stats["published"] == n
        await shut(writer)


# --- binding, Host and Origin (H5, H6) ---


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.5", "example.com", ""])
def test_non_loopback_host_is_refused(host: str) -> None:
    with pytest.raises(BadInput, match="non-loopback"):
        Broadcaster(TOKEN, host=host)


def test_loopback_hosts_and_explicit_remote_are_accepted() -> None:
    for host in ("127.0.0.1", "127.0.0.2", "::1", "localhost"):
        Broadcaster(TOKEN, host=host)
    Broadcaster(TOKEN, host="0.0.0.0", allow_remote=True)


async def test_listening_socket_is_loopback_only(bc: Broadcaster) -> None:
    assert bc._server is not None
    assert [s.getsockname()[0] for s in bc._server.sockets] == ["127.0.0.1"]


@pytest.mark.parametrize("lines,status", [
    (["Host: 127.0.0.1"], b"101"),
    (["Host: localhost:8080"], b"101"),
    (["Host: attacker.example"], b"403"),
    (["Host: attacker.example:80"], b"403"),
    (["Host: 127.0.0.1", "Origin: http://evil.example"], b"403"),
    (["Host: 127.0.0.1", "Origin: http://127.0.0.1:8000.hacked"], b"403"),
    (["Host: 127.0.0.1", "Origin: http://127.0.0.1:8000"], b"101"),
    (["Host: 127.0.0.1", "Host: attacker.example"], b"400"),
])
async def test_host_and_origin_are_checked(lines: list[str], status: bytes) -> None:
    async with Broadcaster(TOKEN, origins=["http://127.0.0.1:8000"]) as b:
        line, _, writer = await raw_upgrade(b.port, lines)
        assert line.split()[1] == status
        await shut(writer)


# --- inbound limits (H8) ---


async def test_inbound_message_closes_with_1008(bc: Broadcaster) -> None:
    async with connect(url(bc)) as ws:
        await ws.send("subscribe")
        with pytest.raises(ConnectionClosed) as e:
            await ws.recv()
    assert e.value.rcvd is not None and e.value.rcvd.code == 1008


async def test_oversize_inbound_closes_with_1009(bc: Broadcaster) -> None:
    async with connect(url(bc)) as ws:
        await ws.send("x" * 5000)
        with pytest.raises(ConnectionClosed) as e:
            await ws.recv()
    assert e.value.rcvd is not None and e.value.rcvd.code == 1009


async def test_watchers_beyond_max_clients_get_503() -> None:
    async with Broadcaster(TOKEN, max_clients=1) as b, connect(url(b)):
        await until(lambda: b.stats["clients"] == 1, "first client registered")
        with pytest.raises(InvalidStatus) as e:
            async with connect(url(b)):
                pass
        assert e.value.response.status_code == 503


# --- the token stays secret ---


@pytest.mark.parametrize("token", ["short", "has space in the token", "tøken-with-non-ascii-chars"])
def test_weak_token_is_refused_without_echo(token: str) -> None:
    with pytest.raises(BadInput) as e:
        Broadcaster(token)
    assert token not in str(e.value)


async def test_token_never_logged_or_shown(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with structlog.testing.capture_logs() as events:
        async with Broadcaster(TOKEN) as b:
            async with connect(url(b, ""), additional_headers={"Authorization": f"Bearer {TOKEN}"}) as ws:
                b.publish("hi")
                assert await ws.recv() == "hi"
            with pytest.raises(InvalidStatus):
                async with connect(url(b, "?token=wrong-token-0000000000")):
                    pass
            assert TOKEN not in repr(b) and TOKEN not in str(vars(b))
            with pytest.raises(TypeError):
                pickle.dumps(b)
    server_lines = [r.getMessage() for r in caplog.records if r.name.startswith("websockets.server")]
    assert any("connection" in line for line in server_lines)  # the server did log, at INFO
    assert not any(r.levelno == logging.DEBUG for r in caplog.records if r.name.startswith("websockets.server"))
    assert TOKEN not in "\n".join(server_lines)
    assert events and TOKEN not in repr(events)
