"""Repeated keys in a JSON object: a frame that names a key twice is malformed.

RFC 8259 §4 leaves a repeated name's meaning to the reader, and msgspec (like most readers)
silently keeps the last value: a frame ``{"seq": 5, ..., "seq": 7}`` would be read as seq 7 by
us and perhaps as seq 5 by another client. Kalshi never sends one, so the wire edge refuses it
(``engine.kalshi.wire.decode_frame``) rather than pick a value.

msgspec cannot report repeated keys, so this module finds them after msgspec has accepted the
text as JSON. The exact check (the standard library's decoder with an ``object_pairs_hook``)
costs several times msgspec's decode, so it runs only when two cheap scans cannot rule a
repeat out. Both need text with no backslash, so that no string holds a quote and the quotes
split the text into strings and what lies between them:

1. if no string (key or value) occurs twice in the whole frame, no key does (an order-book
   delta: one split and one set);
2. else, for compact text (no JSON whitespace), the keys themselves are compared:

* every key is written ``[{,]"name":``; ``_KEY`` finds them all, plus possibly false matches
  that begin at a string ending in ``{`` or ``,`` (each such match ends at a string starting
  with ``:``: an opening quote followed by ``:``);
* ``":`` occurs once per key plus once per string starting with ``:``, so when the matches
  number exactly the occurrences of ``":``, no key was missed (a key swallowed by a false match
  would leave one occurrence unmatched);
* if the matched names are all distinct, across the whole frame, no object repeats one.

Frames that fail both (whitespace, escapes, or a name used in two objects, as in a lifecycle
message's ``price_ranges``) take the exact path. On the local server's frames of
replays/small (4,008: deltas pass the first scan, trades the second) the scans average about
2 us a frame, against about 7 us for the rest of ``FeedCore.receive``. Cheaper exact counts
were tried (the ``":`` count against the fields each Struct was given) and cost as much: each
needs a few calls into C, and each such call is the cost here.
"""

from __future__ import annotations

import json
import re
from typing import Any

_KEY = re.compile(rb'[{,]"([^"]*)":')
_LOOSE = b' \t\n\r\\'  # JSON whitespace and the escape character: the scan does not apply


class _Repeated(Exception):
    def __init__(self, key: str) -> None:
        self.key = key


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise _Repeated(k)
        out[k] = v
    return out


_exact = json.JSONDecoder(object_pairs_hook=_pairs)


def repeated_key(data: bytes) -> str | None:
    """The first key that some object of the JSON text ``data`` names twice, else None.
    ``data`` must already be known to be valid JSON (decoded by msgspec)."""
    if b"\\" not in data:
        strings = data.split(b'"')[1::2]
        if len(set(strings)) == len(strings):
            return None
        if len(data.translate(None, _LOOSE)) == len(data):
            keys = _KEY.findall(data)
            if len(keys) == data.count(b'":') and len(set(keys)) == len(keys):
                return None
    try:
        _exact.decode(data.decode())
    except _Repeated as r:
        return r.key
    except (ValueError, RecursionError):  # msgspec accepted it; json does not (none known)
        return None
    return None
