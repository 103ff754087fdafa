"""Grid input: flags and files to cells with fixed identities; bad input is one line, exit 2,
nothing written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.sweep.grid import Cell, build_grid, decode_cell, encode_cell, parse_seeds
from events.errors import BadInput
from tests.engine.conftest import files_digest, run


def grid(**kw: object) -> list[Cell]:
    base: dict[str, object] = {"sessions": ["small"], "policies": ["random"], "seeds": ["1"]}
    return build_grid({**base, **kw}).cells()


def test_axes_multiply_and_comma_lists_and_ranges_expand() -> None:
    cells = grid(name="g", sessions=["a,b"], policies=["random", "hold"], seeds=["1-3", "7"],
                 latency_ms=["0,50"], queue=["risk_averse,prob:2"])
    assert len(cells) == 2 * 2 * 4 * 2 * 2
    assert {c.seed for c in cells} == {1, 2, 3, 7}
    assert {c.latency_ns for c in cells} == {0, 50_000_000}
    assert len({c.session() for c in cells}) == len(cells)
    assert all(c.session().startswith("g/") and len(c.session()) == len("g/") + 12 for c in cells)


def test_cell_identity_is_deterministic_and_survives_the_wire() -> None:
    [a] = grid(name="x", seeds=["5"])
    [b] = grid(name="x", seeds=["5"])
    assert a.key() == b.key() and a.session() == b.session()
    assert json.loads(a.key())["seed"] == 5
    assert decode_cell(encode_cell(a)) == a and decode_cell(encode_cell(a)).session() == a.session()
    [c] = grid(name="x", seeds=["6"])
    assert c.session() != a.session()
    [d] = grid(name="y", seeds=["5"])  # another sweep: same key, its own name
    assert d.key() == a.key() and d.session() == "y/" + a.session().split("/")[1]


def test_grid_file_toml_and_json_and_flags_replace_an_axis(tmp_path: Path) -> None:
    toml = tmp_path / "g.toml"
    toml.write_text('name = "f"\nsessions = ["small"]\npolicies = ["random", "hold"]\nseeds = "1-4"\n'
                    'latency_ms = [0, 25.5]\nqueue = "risk_averse"\nfees = ["default"]\nevery = 5\ncash = "500"\n')
    g = build_grid({}, toml)
    assert (g.name, g.seeds, g.latency_ms, g.every, g.cash) == ("f", (1, 2, 3, 4), (0.0, 25.5), 5, 500_000_000)
    assert len(g.cells()) == 2 * 4 * 2
    jsn = tmp_path / "g.json"
    jsn.write_text(json.dumps({"sessions": "small", "policies": ["hold"], "seeds": [1, 2]}))
    assert len(build_grid({"seeds": ["9"]}, jsn).cells()) == 1


def test_fee_files_are_identified_by_content(tmp_path: Path) -> None:
    table = {"default": {"fee_type": "quadratic", "multiplier": "0.5"}}
    (tmp_path / "a.json").write_text(json.dumps(table))
    (tmp_path / "b.json").write_text(json.dumps(table))
    cells = grid(fees=[str(tmp_path / "a.json"), str(tmp_path / "b.json"), "default"])
    assert len(cells) == 2  # a and b are one cell


@pytest.mark.parametrize(("flags", "message"), [
    ({"seeds": ["3-1"]}, "a range goes up"),
    ({"seeds": ["x"]}, "a seed is an integer"),
    ({"seeds": []}, "a sweep needs --seeds"),
    ({"latency_ms": ["-5"]}, "not negative"),
    ({"latency_ms": ["nan"]}, "finite"),
    ({"queue": ["fifo"]}, "risk_averse or prob:N"),
    ({"fees": ["nope.json"]}, "no such fee file"),
    ({"name": "a\nb"}, "control or format character"),
    ({"name": "x" * 120}, "at most 115 characters"),
    ({"every": 0}, "at least 1"),
    ({"cash": "ten"}, "--cash"),
])
def test_bad_values_are_one_line(flags: dict[str, object], message: str) -> None:
    with pytest.raises(BadInput, match=message):
        grid(**flags)


def test_bad_grid_files(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("sessions = [\n")
    with pytest.raises(BadInput, match="not valid TOML"):
        build_grid({}, bad)
    unknown = tmp_path / "u.json"
    unknown.write_text('{"sessions": "s", "policies": "hold", "seeds": 1, "colour": "red"}')
    with pytest.raises(BadInput, match="unknown key 'colour'"):
        build_grid({}, unknown)
    assert parse_seeds(["1-3,2"]) == (1, 2, 3)


@pytest.mark.parametrize("args", [
    ["--sessions", "small", "--policy", "random", "--seeds", "1-x"],
    ["--sessions", "nosuch", "--policy", "random", "--seeds", "1"],
    ["--sessions", "small", "--policy", "bogus", "--seeds", "1"],
    ["--sessions", "small", "--policy", "random", "--seeds", "1", "--out", "r.txt"],
    ["--sessions", "small", "--policy", "random", "--seeds", "1", "--nats", "nats://127.0.0.1:4222"],
    ["--sessions", "small", "--policy", "random", "--seeds", "1", "--enqueue-only"],
])
def test_cli_bad_input_exits_2_and_writes_nothing(db: str, args: list[str], tmp_path: Path) -> None:
    before = files_digest(tmp_path)
    r = run("--db", db, "sweep", *args, cwd=tmp_path)
    assert r.code == 2, r.err
    assert r.out == "" and len(r.err.strip().splitlines()) == 1 and r.err.startswith("tradetape: error: ")
    assert files_digest(tmp_path) == before
