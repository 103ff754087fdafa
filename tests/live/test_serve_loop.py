"""``serve-feed --loop``: one server process plays its session to one client after another, so
that serve, paper and record can be run one after the other as the README shows."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest

from tests.live.test_live_cli import live, replay, serve_feed, sessions

pytestmark = pytest.mark.timeout(120)


def test_two_clients_one_after_another_each_get_the_whole_session(src: Path, key: Path, tmp_path: Path) -> None:
    db = tmp_path / "live.db"
    with serve_feed(src, tmp_path, extra=("--loop", "--recorded-times")) as (url, server):
        first = live(tmp_path, "rec1", db, "record", url, "--session", "rec1", key=key).wait()
        second = live(tmp_path, "rec2", db, "record", url, "--session", "rec2", key=key).wait()
        assert server.p.poll() is None, server.err  # still serving
        server.p.send_signal(signal.SIGTERM)
        done = server.wait(timeout=20)
    assert first.code == 0 and second.code == 0, (first.err, second.err)
    assert done.code == 0 and "played 2 time(s)" in done.err, done.err
    for r in (first, second):
        assert json.loads(r.out)["reason"] == "feed complete"
    got = sessions(db)
    assert got["rec1"] == got["rec2"] > 3998  # the whole session, plus start, end and connection events
    a, b = replay(db, "rec1"), replay(db, "rec2")
    assert a["books"] == b["books"] and a["books"]


def test_loop_and_exchange_together_are_refused(src: Path, tmp_path: Path) -> None:
    from tests.live.test_live_cli import tt

    r = tt("--db", src, "serve-feed", "small", "--loop", "--exchange")
    assert r.code == 2 and "--loop" in r.error_line()
