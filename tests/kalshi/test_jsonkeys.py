"""``engine.kalshi.jsonkeys``: the cheap scans never miss a repeated key. Checked against the
exact rule (every object's keys distinct) on hand-picked traps and on generated JSON whose keys
and strings hold the characters the scans reason about (quotes, backslashes, ``:``, ``,``,
``{``, whitespace)."""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.kalshi.jsonkeys import repeated_key


@pytest.mark.parametrize(("text", "key"), [
    (b'{"a":1,"a":2}', "a"),
    (b'{"a":1,"b":{"a":2}}', None),  # one name in two objects
    (b'{"r":[{"s":1},{"s":2}]}', None),
    (b'{"r":[{"s":1,"s":2}]}', "s"),
    (b'{"a" :1,"a":2}', "a"),  # whitespace before the colon
    (b'{ "a":1, "a":2 }', "a"),
    (b'{"a":"x,","b":":y","b":1}', "b"),  # a string ending in "," and one starting with ":"
    (b'{"x":"a{",":k":1,":k":2}', ":k"),  # a false match that would swallow a real key
    (b'{"a\\u0041":1,"aA":2}', "aA"),  # the same name, escaped once
    (b'{"m":"say \\"a\\":1","a":1}', None),  # a quoted key inside a string
    (b'{"side":"yes","taker":"yes"}', None),  # a repeated value is no repeated key
    (b'["a","a"]', None),
])  # fmt: skip
def test_traps(text: bytes, key: str | None) -> None:
    assert repeated_key(text) == key


_CHARS = st.sampled_from(['a', 'b', ':', ',', '{', '"', '\\', ' ', 'é'])
_NAMES = st.text(_CHARS, min_size=0, max_size=3)
_WS = st.sampled_from(["", "", " ", "\n"])


def _values(depth: int) -> st.SearchStrategy[Any]:
    leaf = st.one_of(st.integers(-5, 5), _NAMES, st.booleans(), st.none())
    if depth == 0:
        return leaf
    pairs = st.lists(st.tuples(_NAMES, _values(depth - 1)), max_size=4)
    return st.one_of(leaf, pairs.map(lambda p: ("obj", p)), st.lists(_values(depth - 1), max_size=3))


def _render(v: Any, ws: str) -> str:
    if isinstance(v, tuple) and v[:1] == ("obj",):
        return "{" + ",".join(f"{ws}{json.dumps(k)}{ws}:{ws}{_render(x, ws)}" for k, x in v[1]) + "}"
    if isinstance(v, list):
        return "[" + ",".join(_render(x, ws) for x in v) + "]"
    return json.dumps(v, ensure_ascii=False)


def _exact(v: Any) -> bool:
    if isinstance(v, tuple) and v[:1] == ("obj",):
        names = [k for k, _ in v[1]]
        return len(set(names)) < len(names) or any(_exact(x) for _, x in v[1])
    if isinstance(v, list):
        return any(_exact(x) for x in v)
    return False


@settings(max_examples=600, deadline=None)
@given(st.lists(st.tuples(_NAMES, _values(2)), max_size=6), _WS)
def test_a_repeat_is_found_exactly_when_there_is_one(pairs: list[tuple[str, Any]], ws: str) -> None:
    doc = ("obj", pairs)
    text = _render(doc, ws).encode()
    msgspec.json.decode(text)  # valid JSON, as the scan requires
    assert (repeated_key(text) is not None) == _exact(doc), text
