"""Helpers for the feed-server tests: the small session, a running server (which requires signed
upgrades, as Kalshi does), a throwaway Ed25519 API key, a raw ``websockets`` client that signs,
and a fold of what the client received (wire decode → SequenceChecker over data frames and the
numbered replies → Translator → ``projections.evolve``), which is how a live consumer reads the
feed."""

from __future__ import annotations

import functools
import json
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import msgspec
from cryptography.hazmat.primitives.asymmetric import ed25519
from websockets.asyncio.client import ClientConnection, connect

from engine.kalshi import wire
from engine.kalshi.sequence import SequenceChecker
from engine.kalshi.translate import Translator
from engine.live.auth import WS_PATH, ApiKey
from engine.live.server import FeedServer
from engine.replay import tape_batches
from events.types import EventBase
from projections import State, evolve, initial_state

ROOT = Path(__file__).resolve().parents[2]
SMALL = ROOT / "replays" / "small" / "session.tape"
LARGE = ROOT / "replays" / "large" / "session.tape"
ALL = ["orderbook_delta", "trade", "market_lifecycle_v2"]
KEY = ApiKey("test-key", ed25519.Ed25519PrivateKey.generate())  # a throwaway key: the server only checks presence
NUMBERED = ("ok", "unsubscribed", "error")  # replies that take a seq when they carry a sid and one


def auth() -> dict[str, str]:
    """Fresh KALSHI-ACCESS-* headers for the upgrade, signed with ``KEY``."""
    return KEY.headers("GET", WS_PATH, int(time.time() * 1000))


@functools.cache
def events(path: Path = SMALL) -> tuple[EventBase, ...]:
    return tuple(e for batch in tape_batches(path) for e in batch)


def tickers(evs: tuple[EventBase, ...]) -> list[str]:
    return sorted({m for e in evs if (m := getattr(e, "market", None))})


@asynccontextmanager
async def running(evs: tuple[EventBase, ...] | None = None, **kw: Any) -> AsyncIterator[tuple[FeedServer, str]]:
    server = FeedServer(events() if evs is None else evs, **kw)
    port = await server.start()
    try:
        yield server, f"ws://127.0.0.1:{port}/trade-api/ws/v2"
    finally:
        await server.close()


def client(url: str, **kw: Any) -> Any:
    """A raw client connection (``async with``); ``max_size`` 1 MiB as Kalshi clients use."""
    kw.setdefault("additional_headers", auth())
    kw.setdefault("close_timeout", 1.0)
    return connect(url, compression=None, max_size=1 << 20, **kw)


async def cmd(ws: ClientConnection, cmd_id: int, name: str, params: dict[str, Any] | None = None) -> None:
    body: dict[str, Any] = {"id": cmd_id, "cmd": name}
    if params is not None:
        body["params"] = params
    await ws.send(json.dumps(body))


async def recv(ws: ClientConnection) -> dict[str, Any]:
    return dict(json.loads(await ws.recv()))


async def subscribe_all(ws: ClientConnection, markets: list[str], **params: Any) -> None:
    await cmd(ws, 1, "subscribe", {"channels": ALL, "market_tickers": markets, **params})


class Fold:
    """The client's view: books and gaps from the frames received, as a live consumer folds them."""

    def __init__(self, *, use_yes_price: bool = False) -> None:
        self.state: State = initial_state()
        self.checker = SequenceChecker()
        self.translator = Translator(use_yes_price=use_yes_price)
        self.gaps: Counter[str] = Counter()
        self.missing = 0  # seqs skipped over by gaps
        self.replies: list[dict[str, Any]] = []
        self.bad: list[bytes] = []  # frames that are not valid JSON frames
        self.seqs: dict[int, list[int]] = {}
        self.frames = 0

    def feed(self, raw: str | bytes) -> None:
        data = raw.encode() if isinstance(raw, str) else raw
        try:
            frame = wire.decode_frame(data)
        except Exception:
            self.bad.append(data)
            return
        if frame.type == "subscribed":
            sub = msgspec.json.decode(frame.msg)
            self.checker.open(sub["sid"], sub["channel"])  # a new sid starts at seq 1
        if frame.type in NUMBERED and frame.sid is not None and frame.seq is not None:
            self.seqs.setdefault(frame.sid, []).append(frame.seq)
            verdict = self.checker.check(frame.sid, frame.seq, frame.type, None)
            if verdict.gap is not None:
                self.gaps[verdict.gap.kind] += 1
                evolve(self.state, verdict.gap)
        if frame.type not in wire.MSG_TYPES or frame.sid is None or frame.seq is None:
            self.replies.append(json.loads(data))
            return
        self.frames += 1
        msg = wire.decode_msg(frame.type, frame.msg)
        self.seqs.setdefault(frame.sid, []).append(frame.seq)
        verdict = self.checker.check(frame.sid, frame.seq, frame.type, getattr(msg, "market_ticker", None))
        if verdict.gap is not None:
            self.gaps[verdict.gap.kind] += 1
            if verdict.gap.kind == "gap":
                self.missing += verdict.gap.got_seq - verdict.gap.expected_seq
            evolve(self.state, verdict.gap)
        if verdict.accept:
            for event in self.translator.translate(frame.type, msg, ts=0):
                evolve(self.state, event)

    async def drain(self, ws: ClientConnection) -> None:
        """Fold every frame until the server closes the connection."""
        async for raw in ws:
            self.feed(raw)


def books(state: State) -> dict[str, tuple[dict[int, int], dict[int, int]]]:
    return {name: (m.yes, m.no) for name, m in state.markets.items()}


async def paper_session(tmp_path: Path, spec: str, *, cash: int, params: dict[str, str] | None = None,
                        seed: int = 3) -> tuple[Any, list[EventBase]]:
    """``paper`` with the policy ``spec`` on every market of ``small`` against the feed server on
    loopback, to the end of the feed: (its summary, its recorded log)."""
    from contextlib import aclosing

    from engine.live.client import FeedClient
    from engine.live.paper import run_live
    from engine.live.policy_spec import make_live_policy
    from engine.sim.config import ExchangeConfig
    from events.store import open_store

    markets = tuple(tickers(events(SMALL)))
    server = FeedServer(events(SMALL), ping_interval=0.2, end_linger=1.0)
    port = await server.start()
    client = FeedClient(f"ws://127.0.0.1:{port}/trade-api/ws/v2", markets, key=KEY, dead_after=10.0,
                        backoff=(0.01, 0.05), max_reconnects=5)
    store = await open_store(str(tmp_path / "live.db"), create=True)
    try:
        pol, entries = make_live_policy(spec, seed, 5, markets, params)
        summary = await run_live(store, client, "p", mode="paper", policy=pol, policy_entries=entries, seed=seed,
                                 cfg=ExchangeConfig(), starting_cash=cash)
        await server.finished()
        recorded: list[EventBase] = []
        async with aclosing(store.read("p")) as batches:
            async for b in batches:
                recorded.extend(b)
    finally:
        await store.close()
        await server.close()
    return summary, recorded
