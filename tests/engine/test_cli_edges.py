"""The command line's edges: help on every option, --version, refusals that say what to do, and
the dollar line of a trading run's summary."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from pathlib import Path

from engine.cli.main import build_parser

from .conftest import run


def _parsers(p: argparse.ArgumentParser, path: str) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    yield path, p
    for action in p._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _parsers(sub, f"{path} {name}")


def _undocumented() -> list[str]:
    missing = []
    for path, p in _parsers(build_parser(), "tradetape"):
        for action in p._actions:
            if isinstance(action, argparse._HelpAction | argparse._SubParsersAction):
                continue
            if not action.help or action.help == argparse.SUPPRESS:
                missing.append(f"{path} {'/'.join(action.option_strings) or action.dest}")
    return missing


def test_every_option_and_positional_of_every_command_has_help() -> None:
    assert _undocumented() == []


def test_version_prints_the_engine_version() -> None:
    from events.version import ENGINE_VERSION

    r = run("--version")
    assert r.code == 0 and r.out.strip() == f"tradetape {ENGINE_VERSION}"


def _one_error(r: object) -> str:
    err = r.err.strip().splitlines()  # type: ignore[attr-defined]
    assert r.code == 2 and len(err) == 1 and err[0].startswith("tradetape: error: "), r.err  # type: ignore[attr-defined]
    return err[0]


def test_sessions_shows_mode_source_policy_markets_and_times(small_store: Path) -> None:
    db = str(small_store)
    assert run("--db", db, "simulate", "s", "--policy", "random", "--seed", "3", "--as", "r3").code == 0
    r = run("--db", db, "sessions", "--json")
    assert r.code == 0, r.err
    rows = {x["session"]: x for x in json.loads(r.out)}
    s, r3 = rows["s"], rows["r3"]
    assert (s["mode"], s["source"], s["policy"], s["events"], s["seed"]) == ("synthetic", None, None, 3000, 5)
    assert len(s["markets"]) == 6 and s["first_ts"].endswith("Z") and s["first_ts"] < s["last_ts"]
    assert (r3["mode"], r3["source"], r3["markets"], r3["seed"]) == ("simulate", "s", s["markets"], 3)
    assert r3["policy"].startswith("random") and r3["first_ts"] == s["first_ts"]
    table = run("--db", db, "sessions").out.splitlines()
    assert table[0].split()[:6] == ["SESSION", "MODE", "SOURCE", "POLICY", "MARKETS", "EVENTS"]
    assert table[2].split()[:3] == ["s", "synthetic", "-"] and table[1].split()[:3] == ["r3", "simulate", "s"]


def test_delete_refuses_a_source_then_removes_and_retires_its_anchor_lines(small_store: Path) -> None:
    db = str(small_store)
    anchors = Path(f"{db}.anchors")
    assert run("--db", db, "simulate", "s", "--policy", "random", "--seed", "3", "--as", "r3").code == 0
    assert run("--db", db, "generate", "other", "--events", "500").code == 0
    # a source with a dependent: refused, exit 2, naming it; nothing changes
    line = _one_error(run("--db", db, "delete", "s", "--yes"))
    assert "'s' is the source of derived session(s) 'r3': delete those first" in line
    # without --yes: a dry run that says what it would do
    assert "run it again with --yes" in _one_error(run("--db", db, "delete", "r3"))
    assert {x["session"] for x in json.loads(run("--db", db, "sessions", "--json").out)} == {"s", "r3", "other"}
    # the dependent, then the source
    for name in ("r3", "s"):
        r = run("--db", db, "delete", name, "--yes")
        assert r.code == 0 and f"deleted session {name!r}" in r.err, r.err
    assert [x["session"] for x in json.loads(run("--db", db, "sessions", "--json").out)] == ["other"]
    # the anchor file keeps only the live session's lines; the deleted ones moved aside
    assert [json.loads(x)["session"] for x in anchors.read_text().splitlines()] == ["other"]
    assert {json.loads(x)["session"] for x in Path(f"{anchors}.deleted").read_text().splitlines()} == {"s", "r3"}
    assert run("--db", db, "audit", "verify", "other", "--anchor", str(anchors)).code == 0
    # and the freed name can be written again, anchored and verified
    assert run("--db", db, "generate", "s", "--events", "300", "--seed", "9").code == 0
    assert run("--db", db, "audit", "verify", "s", "--anchor", str(anchors)).code == 0
    assert "no session named 'gone'" in _one_error(run("--db", db, "delete", "gone", "--yes"))


def test_an_existing_name_is_refused_saying_how_to_proceed(small_store: Path) -> None:
    db = str(small_store)
    assert run("--db", db, "simulate", "s", "--policy", "random", "--seed", "1").code == 0
    line = _one_error(run("--db", db, "simulate", "s", "--policy", "random", "--seed", "1"))
    assert "'s-sim-random-1' already exists" in line and "--as" in line
    assert "`tradetape delete s-sim-random-1 --yes`" in line
    line = _one_error(run("--db", db, "generate", "s", "--events", "100"))
    assert "'s' already exists" in line and "`tradetape delete s --yes`" in line


def test_simulate_refuses_a_market_the_source_lacks_before_writing(small_store: Path) -> None:
    db = str(small_store)
    line = _one_error(run("--db", db, "simulate", "s", "--markets", "NOPE-1", "--as", "x"))
    assert "--markets: NOPE-1 not in session 's' (its markets: KX" in line
    assert [x["session"] for x in json.loads(run("--db", db, "sessions", "--json").out)] == ["s"]


def test_replay_at_a_time_outside_the_session_names_its_range(small_store: Path, tmp_path: Path) -> None:
    db = str(small_store)
    tape = tmp_path / "s.tape"
    assert run("--db", db, "export", "s", str(tape)).code == 0
    for target in ("s", str(tape)):
        for when in ("2001-01-01T00:00:00Z", "2099-01-01T00:00:00Z"):
            line = _one_error(run("--db", db, "replay", target, "--at-time", when))
            assert "outside" in line and "whose events run from 20" in line


def test_audit_show_of_a_market_the_session_lacks_names_its_markets(small_store: Path) -> None:
    db = str(small_store)
    r = run("--db", db, "audit", "show", "s", "--market", "NOPE-1")
    assert r.out == "" and "--market NOPE-1: no event of session 's' names it (its markets: KX" in _one_error(r)
    # a market it has, with a filter that matches nothing: a warning, never silence
    market = json.loads(run("--db", db, "sessions", "--json").out)[0]["markets"][0]
    r = run("--db", db, "audit", "show", "s", "--market", market, "--type", "fill")
    assert r.code == 0 and r.out == "" and "warning: no event of session 's' matches the filters" in r.err


def test_simulate_prints_pnl_and_fees_in_dollars_beside_its_json(small_store: Path) -> None:
    from engine.cli.output import dollars

    r = run("--db", str(small_store), "simulate", "s", "--policy", "random", "--seed", "2", "--as", "p")
    assert r.code == 0, r.err
    d = json.loads(r.out)  # stdout stays JSON
    line = r.err.strip().splitlines()[-1]
    pnl = d["portfolio_value"] - d["starting_cash"]
    assert line.startswith(f"p: P&L {dollars(pnl)}, fees {dollars(d['fees'])}, {d['fills']} fills"), line
    assert dollars(-1_230_000) == "-$1.23" and dollars(451_200) == "$0.4512" and dollars(0) == "$0.00"
