"""``tradetape trade`` and ``tradetape reconcile`` as a user runs them: production needs the
explicit flag, trading needs a key, and a venue session traded against ``serve-feed
--exchange`` (its own process) reconciles clean on demand afterwards."""

from __future__ import annotations

import asyncio
import base64
import json
import re
from pathlib import Path

from tests.fanout.natskit import NATS_URL, nats_or_skip, streams_dropped, unique
from tests.live.test_live_cli import MARKETS, Proc, tt

URL = re.compile(r"(http://127\.0\.0\.1:\d+/trade-api/v2)")
WS = re.compile(r"(ws://127\.0\.0\.1:\d+/trade-api/ws/v2)")


def test_production_needs_the_real_money_flag(tmp_path: Path, key: Path) -> None:
    r = tt("--db", tmp_path / "t.db", "trade", "--venue", "kalshi", "--markets", "T1", "--key-id", "k",
           "--key-file", key)
    assert r.code == 2 and r.err.count("\n") == 1 and "--i-understand-this-is-real-money" in r.err
    assert not (tmp_path / "t.db").exists()


def test_trading_needs_a_key_and_a_known_venue(tmp_path: Path) -> None:
    r = tt("--db", tmp_path / "t.db", "trade", "--markets", "T1")
    assert r.code == 2 and "--key-id and --key-file" in r.err
    r = tt("--db", tmp_path / "t.db", "trade", "--venue", "nasdaq", "--markets", "T1")
    assert r.code == 2 and "kalshi-demo, kalshi, or a REST base URL" in r.err


def test_trade_then_reconcile_on_demand(tmp_path: Path, key: Path, src: Path) -> None:
    """... and published to JetStream as it trades (``--nats``): a mirror of the stream is the
    venue session, chain head for chain head."""
    asyncio.run(_nats())  # skip (locally) / fail (CI) without NATS, before anything starts
    name = unique("v1")
    server = Proc(tmp_path, "serve", "--db", src, "serve-feed", "small", "--exchange", "--speed", "8",
                  "--exchange-linger", "60")
    try:
        rest = server.wait_for(URL).group(1)
        ws = server.wait_for(WS).group(1)
        db = tmp_path / "venue.db"
        args = ("--key-id", "test-key", "--key-file", key)
        r = tt("--db", db, "trade", "--venue", rest, "--feed", ws, "--markets", MARKETS, "--session", name,
               "--policy", "random", "--every", "10", "--max-order", "3", "--nats", NATS_URL, *args, timeout=120)
        assert r.code == 0, r.err
        summary = json.loads(r.out)
        assert summary["mode"] == "venue" and summary["reason"] == "feed complete"
        assert summary["orders_placed"] > 0 and summary["fills"] > 0
        assert summary["reconciliations"][-1][:2] == ["end", "clean"]
        again = tt("--db", db, "reconcile", name, *args)
        assert again.code == 0, (again.out, again.err)
        assert json.loads(again.out)["decision"] == "clean"
        assert tt("--db", db, "audit", "verify", name).code == 0
        calib = tt("--db", db, "audit", "calibrate", name, "--json")
        assert calib.code == 0 and json.loads(calib.out)["summary"]["orders"] == summary["orders_placed"]
        m = tt("mirror", name, "--nats", NATS_URL, "--into", tmp_path / "replica.db", "--idle-exit", "10")
        assert m.code == 0, m.err
        head = json.loads(tt("--db", db, "audit", "verify", name, "--json").out)
        assert base64.b64decode(head["head_hash"]).hex() == json.loads(m.out)["head_hash"]
        assert json.loads(m.out)["head_seq"] == head["head_seq"] and json.loads(m.out)["ended"]
    finally:
        server.stop()
        asyncio.run(_drop(name))


async def _nats() -> None:
    nc = await nats_or_skip()
    await nc.close()


async def _drop(name: str) -> None:
    nc = await nats_or_skip()
    async with streams_dropped(nc, name):
        pass
    await nc.close()
