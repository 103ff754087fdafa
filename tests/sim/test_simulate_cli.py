"""``tradetape simulate`` as users drive it: a synthetic session re-simulated with the random,
hold and script policies, then read back with ``replay`` and ``audit``; bad input exits 2 with
one line on stderr and leaves the store byte for byte as it was.

Units: prices $0.0001, counts 0.01 contract (``events/units.py``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.engine.conftest import files_digest, run

MARKET_TYPES = {"book_snapshot.v1", "book_delta.v1", "trade.v1", "market_status.v2", "market_settled.v1", "feed_gap.v1",
                "fee_changed.v1"}
AGENT_TYPES = {"action_taken.v1", "order_placed.v2", "order_accepted.v1", "order_rejected.v1", "order_cancelled.v1",
               "order_amended.v1", "fill.v2"}


def generate(directory: Path) -> str:
    directory.mkdir()
    db = str(directory / "t.db")
    r = run("--db", db, "generate", "s", "--events", "3000", "--seed", "5", "--markets", "4")
    assert r.code == 0, r.err
    return db


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> str:
    """One store for the module's successful runs: ``s`` and the sessions simulated from it."""
    return generate(tmp_path_factory.mktemp("sim") / "store")


@pytest.fixture(scope="module")
def r7(db: str) -> dict[str, Any]:
    r = run("--db", db, "simulate", "s", "--policy", "random", "--seed", "7", "--as", "r7")
    assert r.code == 0, r.err
    return json.loads(r.out)


def show(db: str, session: str, *types: str) -> list[dict[str, Any]]:
    args = [a for t in types for a in ("--type", t)]
    r = run("--db", db, "audit", "show", session, *args, "--json")
    assert r.code == 0, r.err
    return [json.loads(line) for line in r.out.splitlines()]


def replay(db: str, session: str, *args: str) -> dict[str, Any]:
    r = run("--db", db, "replay", session, *args, "--json")
    assert r.code == 0, r.err
    return json.loads(r.out)


def book(state: dict[str, Any], market: str) -> dict[str, Any]:
    [b] = [b for b in state["books"] if b["market"] == market]
    return b


def dollars(price: int) -> str:
    return f"{price // 10_000}.{price % 10_000:04d}"


# --- the random policy ---------------------------------------------------------------------------


def test_random_simulation_summary_and_replay_agree(db: str, r7: dict[str, Any]) -> None:
    assert r7["session"] == "r7" and r7["source"] == "s" and r7["seed"] == 7
    assert r7["policy"].startswith("random(seed=7")
    assert len(r7["digest"]) == 64 and int(r7["digest"], 16) >= 0
    assert r7["market_events"] == 2998  # 3000 less the source's start and end
    assert r7["actions"] > 0 and r7["fills"] > 0
    v = replay(db, "r7")
    assert v["digest"] == r7["digest"]
    assert v["last_seq"] == r7["events"] and v["cash"] == r7["cash"] and v["portfolio_value"] == r7["portfolio_value"]
    assert v["stats"]["fills"] == r7["fills"] and v["stats"]["fees"] == r7["fees"]
    assert run("--db", db, "audit", "verify", "r7").code == 0


def test_every_fill_belongs_to_an_order_placed_before_it(db: str, r7: dict[str, Any]) -> None:
    fills = show(db, "r7", "fill")
    placed = {e["order_id"]: e for e in show(db, "r7", "order_placed")}
    assert len(fills) == r7["fills"] > 0
    assert all(f["type"] == "fill.v2" for f in fills)
    for f in fills:
        o = placed[f["order_id"]]
        assert o["seq"] < f["seq"]
        assert (o["market"], o["action"], o["side"]) == (f["market"], f["action"], f["side"])
    by_order: dict[str, int] = {}
    for f in fills:
        by_order[f["order_id"]] = by_order.get(f["order_id"], 0) + f["count"]
    assert all(n <= placed[oid]["count"] for oid, n in by_order.items())  # no overfill


def test_new_session_starts_with_the_simulation_config(db: str, r7: dict[str, Any]) -> None:
    first = show(db, "r7")[0]
    assert first["seq"] == 1 and first["type"].startswith("session_started")
    assert first["session"] == "r7" and first["mode"] == "simulate" and first["seed"] == 7
    assert first["config"]["policy"] == r7["policy"] and first["config"]["source"] == "s"
    source_first = show(db, "s")[0]
    assert first["starting_cash"] == source_first["starting_cash"] and first["ts"] == source_first["ts"]


def test_same_simulation_twice_differs_only_in_its_name(db: str, r7: dict[str, Any]) -> None:
    r = run("--db", db, "simulate", "s", "--policy", "random", "--seed", "7")  # default name
    assert r.code == 0, r.err
    again = json.loads(r.out)
    assert again["session"] == "s-sim-random-7"
    # the digest covers the snapshot's session name too, so it is the one other field that differs
    assert {k: v for k, v in again.items() if k not in ("session", "digest")} == {
        k: v for k, v in r7.items() if k not in ("session", "digest")}
    d = run("--db", db, "audit", "diff", "r7", "s-sim-random-7")
    assert d.code == 0, d.out + d.err
    assert d.out.startswith("identical") and f"{r7['events']} events" in d.out
    other = run("--db", db, "simulate", "s", "--policy", "random", "--seed", "8", "--as", "r8")
    assert other.code == 0, other.err
    assert run("--db", db, "audit", "diff", "r7", "r8").code == 1  # another seed is another session


def test_every_event_a_decision_keeps_the_source_bytes_in_place(db: str) -> None:
    """Deciding after every event cuts the source into many short runs: runs of one are copied,
    longer ones spanned. Either way the new session holds the source's market events byte for
    byte, in order, and verifies."""
    import asyncio

    from events.codec import decode, split_array
    from events.store import open_store
    from events.types import MARKET_EVENTS

    r = run("--db", db, "simulate", "s", "--policy", "random", "--seed", "3", "--every", "1", "--as", "e1")
    assert r.code == 0, r.err

    async def market_bytes(session: str) -> list[bytes]:
        store = await open_store(db)
        try:
            raw = [b async for ch in store.read_logical(session) for b in split_array(ch.payload)]
        finally:
            await store.close()
        return [b for b in raw if isinstance(decode(b), MARKET_EVENTS)]

    theirs, ours = asyncio.run(market_bytes("s")), asyncio.run(market_bytes("e1"))
    assert len(ours) == 2998 and ours == theirs  # 3000 less the source's start and end
    v = run("--db", db, "audit", "verify", "e1")
    assert v.code == 0, v.out + v.err


# --- hold ----------------------------------------------------------------------------------------


def test_hold_adds_nothing_to_the_market_events(db: str) -> None:
    r = run("--db", db, "simulate", "s", "--policy", "hold", "--as", "h")
    assert r.code == 0, r.err
    summary = json.loads(r.out)
    assert (summary["actions"], summary["fills"], summary["fees"]) == (0, 0, 0)
    held = show(db, "h")
    assert [e for e in held if e["type"] in AGENT_TYPES] == []
    source = show(db, "s")
    assert [e for e in held if e["type"] in MARKET_TYPES] == [e for e in source if e["type"] in MARKET_TYPES]
    assert len(held) == len(source) == summary["events"] == 3000
    v = replay(db, "h")
    assert v["cash"] == v["starting_cash"] == summary["portfolio_value"] and v["positions"] == []


# --- a script ------------------------------------------------------------------------------------


def test_script_places_fills_and_cancels(db: str, tmp_path: Path) -> None:
    at50 = replay(db, "s", "--until", "50")
    at60 = replay(db, "s", "--until", "60")
    [market] = [b["market"] for b in at50["books"] if b["market"].startswith("KXSOLD")]
    ask = book(at50, market)["best_yes_ask"]  # buying YES at the ask crosses: an IOC that fills
    [[no_bid, shown]] = book(at60, market)["no_bids"][:1]  # a GTC joining the NO bid queue
    script = tmp_path / "script.jsonl"
    lines = [
        {"at_seq": 50, "cmd": "place", "market": market, "action": "buy", "side": "yes", "price": dollars(ask),
         "count": "3.00", "tif": "ioc"},
        {"at_seq": 60, "cmd": "place", "market": market, "action": "buy", "side": "no", "price": dollars(no_bid),
         "count": "2.00", "tif": "gtc"},
        {"at_seq": 400, "cmd": "cancel", "order_id": "O000002"},
    ]
    script.write_text("".join(json.dumps(line) + "\n" for line in lines))
    r = run("--db", db, "simulate", "s", "--policy", f"script:{script}", "--as", "sc")
    assert r.code == 0, r.err
    summary = json.loads(r.out)
    assert summary["policy"] == "script:script.jsonl" and summary["actions"] == 3

    events = show(db, "sc")
    mine = [e for e in events if e["type"] in AGENT_TYPES]
    source = {e["seq"]: e for e in show(db, "s")}
    actions = [e for e in mine if e["type"] == "action_taken.v1"]
    assert [a["ts"] for a in actions] == [source[50]["ts"], source[60]["ts"], source[400]["ts"]]
    placed = [e for e in mine if e["type"] == "order_placed.v2"]
    assert [(o["order_id"], o["side"], o["price"], o["count"], o["tif"]) for o in placed] == [
        ("O000001", "yes", ask, 300, "ioc"), ("O000002", "no", no_bid, 200, "gtc")]

    ioc = [e for e in mine if e.get("order_id") == "O000001" and e["type"] != "order_placed.v2"]
    ioc_fills = [e for e in ioc if e["type"] == "fill.v2"]
    assert ioc_fills and all(f["liquidity"] == "taker" and f["price"] <= ask for f in ioc_fills)
    taken = sum(f["count"] for f in ioc_fills)
    assert taken <= 300
    if taken < 300:
        assert ioc[-1]["type"] == "order_cancelled.v1" and ioc[-1]["reduced_by"] == 300 - taken

    gtc = [e for e in mine if e.get("order_id") == "O000002" and e["type"] != "order_placed.v2"]
    assert gtc[0]["type"] == "order_accepted.v1" and gtc[0]["queue_ahead"] == shown
    gtc_fills = [e for e in gtc if e["type"] == "fill.v2"]
    assert all(f["liquidity"] == "maker" and f["price"] == no_bid for f in gtc_fills)
    cancel = gtc[-1]
    assert cancel["type"] == "order_cancelled.v1" and cancel["reason"] == "user"
    assert cancel["reduced_by"] == 200 - sum(f["count"] for f in gtc_fills) > 0
    assert cancel["seq"] == actions[2]["seq"] + 1

    v = replay(db, "sc")
    assert v["digest"] == summary["digest"] and v["open_orders"] == []
    [p] = [p for p in v["positions"] if p["market"] == market]
    assert p["position"] == taken - sum(f["count"] for f in gtc_fills)  # YES bought less NO bought


def test_a_script_line_is_either_run_or_refused(db: str, tmp_path: Path) -> None:
    script = tmp_path / "edges.jsonl"
    script.write_text('{"at_seq": 1, "cmd": "cancel", "order_id": "O000009"}\n'
                      '{"at_seq": 3000, "cmd": "cancel", "order_id": "O000008"}\n'
                      '{"at_seq": 99999, "cmd": "cancel", "order_id": "O000007"}\n')
    r = run("--db", db, "simulate", "s", "--policy", f"script:{script}", "--as", "edges")
    # expected: exit 2 naming edges.jsonl:1 (or the three cancels recorded as actions, and rejected);
    # got: exit 0 with "actions": 0 and no trace of the three lines in the new session
    assert r.code == 2 or json.loads(r.out)["actions"] == 3, r.out


# --- bad input -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bad_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A store holding only ``s``: every bad command below must leave it exactly as it is."""
    return generate(tmp_path_factory.mktemp("bad") / "store")


SCRIPTS = {
    "malformed.jsonl": ('{"at_seq": 5, "cmd": "cancel", "order_id": "O000001"}\n{"at_seq": 6, "cmd": \n', ":2:"),
    "unknown-cmd.jsonl": ('{"at_seq": 5, "cmd": "buy", "market": "X", "price": "0.45", "count": "1"}\n', ":1:"),
    "five-decimals.jsonl": ('\n{"at_seq": 5, "cmd": "cancel", "order_id": "O000001"}\n'
                            '{"at_seq": 9, "cmd": "place", "market": "X", "price": "0.45001", "count": "1"}\n', ":3:"),
    "unknown-field.jsonl": ('{"at_seq": 5, "cmd": "cancel", "order_id": "O1", "qty": 3}\n', ":1:"),
    "no-market.jsonl": ('{"at_seq": 5, "cmd": "place", "price": "0.45", "count": "1.00"}\n', ":1:"),
    "bad-count.jsonl": ('{"at_seq": 5, "cmd": "place", "market": "X", "price": "0.45", "count": "1.001"}\n', ":1:"),
}


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_bad_script_exits_2_naming_file_and_line(bad_db: str, tmp_path: Path, name: str) -> None:
    text, where = SCRIPTS[name]
    script = tmp_path / name
    script.write_text(text)
    before = files_digest(Path(bad_db).parent)
    r = run("--db", bad_db, "simulate", "s", "--policy", f"script:{script}", "--as", "x")
    assert r.code == 2, (r.code, r.out, r.err)
    assert r.out == ""
    assert len(r.err.splitlines()) == 1 and r.err.startswith("tradetape: error: ")
    assert f"{script}{where}" in r.err, r.err
    assert files_digest(Path(bad_db).parent) == before


BAD = [  # (what, source session, arguments, what the one line must say)
    ("missing script", "s", ["--policy", "script:{tmp}/nope.jsonl", "--as", "x"], "{tmp}/nope.jsonl"),
    ("unknown policy", "s", ["--policy", "nonsense", "--as", "x"], "nonsense"),
    ("existing name", "s", ["--policy", "hold", "--as", "s"], "'s' already exists"),
    ("unknown source", "nosuch", ["--policy", "hold", "--as", "x"], "no session named 'nosuch'"),
    ("every zero", "s", ["--policy", "random", "--every", "0", "--as", "x"], "--every"),
    ("negative latency", "s", ["--policy", "hold", "--latency-ms", "-1", "--as", "x"], "--latency-ms"),
    ("bad cash", "s", ["--policy", "hold", "--cash", "1.0000001", "--as", "x"], "--cash"),
]


@pytest.mark.parametrize(("what", "source", "args", "needle"), BAD, ids=[b[0] for b in BAD])
def test_bad_input_exits_2_and_writes_nothing(bad_db: str, tmp_path: Path, what: str, source: str, args: list[str],
                                              needle: str) -> None:
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    before = files_digest(Path(bad_db).parent)
    r = run("--db", bad_db, "simulate", source, *args)
    assert r.code == 2, (what, r.code, r.out, r.err)
    assert r.out == ""
    assert len(r.err.splitlines()) == 1 and r.err.startswith("tradetape: error: "), r.err
    assert needle.replace("{tmp}", str(tmp_path)) in r.err, r.err
    assert files_digest(Path(bad_db).parent) == before
    sessions = run("--db", bad_db, "sessions", "--json")
    assert sessions.code == 0, sessions.err
    assert [row["session"] for row in json.loads(sessions.out)] == ["s"]


# --- starting cash, fees and the queue model ----------------------------------------------------------

def frames_file(path: Path) -> Path:
    """A small recording in Kalshi's wire format: a book snapshot and deltas on one subscription."""
    m, mid = "KXTEST-26JUL01-T50", "3f2b6a1e-0c1d-5e7f-8a9b-0c1d2e3f4a5b"
    lines: list[dict[str, Any]] = [
        {"id": 1, "type": "subscribed", "msg": {"channel": "orderbook_delta", "sid": 1}},
        {"type": "orderbook_snapshot", "sid": 1, "seq": 1, "msg": {
            "market_ticker": m, "market_id": mid, "yes_dollars_fp": [["0.4400", "20.00"], ["0.4500", "10.00"]],
            "no_dollars_fp": [["0.5200", "15.00"], ["0.5300", "10.00"]]}},
    ]
    for i in range(40):
        lines.append({"type": "orderbook_delta", "sid": 1, "seq": i + 2, "msg": {
            "market_ticker": m, "market_id": mid, "price_dollars": "0.4400", "delta_fp": "1.00" if i % 2 else "-1.00",
            "side": "yes", "ts": f"2026-07-01T14:00:{i:02d}Z", "ts_ms": 1782914400000 + 1000 * i}})
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def test_a_session_without_starting_cash_needs_cash_to_trade(tmp_path: Path) -> None:
    """An import has no starting cash: a trading policy would have every buy rejected and exit 0.
    It is refused, naming --cash, and nothing is written; hold needs none; --cash makes it trade."""
    db = str(tmp_path / "i.db")
    frames = frames_file(tmp_path / "frames.jsonl")
    assert run("--db", db, "import", str(frames), "--session", "feb").code == 0
    before = files_digest(tmp_path)
    r = run("--db", db, "simulate", "feb", "--policy", "random", "--every", "1")
    assert r.code == 2 and r.err.strip().endswith("session 'feb' has no starting cash (an import or a recording): "
                                                   "give --cash DOLLARS")
    r = run("--db", db, "simulate", "feb", "--policy", "random", "--cash", "0")
    assert r.code == 2 and "--cash 0: a policy that trades needs a positive starting cash" in r.err
    assert files_digest(tmp_path) == before
    assert run("--db", db, "simulate", "feb", "--policy", "hold").code == 0
    r = run("--db", db, "simulate", "feb", "--policy", "random", "--every", "1", "--cash", "1000", "--as", "paid")
    assert r.code == 0, r.err
    out = json.loads(r.out)
    assert out["starting_cash"] == 1_000_000_000 and out["actions"] > 0


def test_fees_file_and_queue_model_are_recorded_and_replayed(db: str, tmp_path: Path) -> None:
    fees = tmp_path / "fees.json"
    fees.write_text('{"balance_precision": "0.01", "series": {"KXBTCD": {"fee_type": "quadratic_with_maker_fees"}}}')
    r = run("--db", db, "simulate", "s", "--policy", "random", "--seed", "3", "--fees", str(fees),
            "--queue", "prob:2", "--as", "feesq")
    assert r.code == 0, r.err
    summary = json.loads(r.out)
    [start] = show(db, "feesq", "session_started")
    assert start["config"]["queue"] == "prob:2"
    table = json.loads(start["config"]["fees"])
    assert table["precision"] == 10_000 and table["overrides"][0][0] == "KXBTCD-"
    assert replay(db, "feesq")["digest"] == summary["digest"]
    for bad, says in (("--queue", "prob:9"), ("--fees", str(tmp_path / "none.json"))):
        r = run("--db", db, "simulate", "s", "--policy", "random", bad, says, "--as", "x")
        assert r.code == 2 and len(r.err.strip().splitlines()) == 1, r.err
