"""Where a session lives on NATS: one JetStream stream per session, one subject.

A session name is any Unicode text (``events.names``); a stream name and a subject token may
hold only ``[A-Za-z0-9_-]`` here (NATS forbids ``.``, ``*``, ``>``, whitespace and path
separators, and a file-backed stream's name is a directory name). ``token`` maps a name to
such a token one-to-one: ASCII letters, digits and ``-`` stay, every other character becomes
``_<hex code point>_``; a token that would pass ``MAX_TOKEN`` characters is ``h_`` and 40 hex
digits of the name's SHA-256 (one underscore, where an escaped token always has an even
number: the two forms never meet).
"""

from __future__ import annotations

import hashlib

DEFAULT_NATS = "nats://127.0.0.1:4222"
PREFIX = "tradetape"
STREAM_PREFIX = "TT_"
MAX_TOKEN = 200
_PLAIN = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-")


def token(session: str) -> str:
    out = "".join(c if c in _PLAIN else f"_{ord(c):x}_" for c in session)
    if len(out) > MAX_TOKEN:
        return "h_" + hashlib.sha256(session.encode("utf-8")).hexdigest()[:40]
    return out


def stream_name(session: str) -> str:
    """The JetStream stream holding ``session``'s events (stream seq = session seq)."""
    return STREAM_PREFIX + token(session)


def subject(session: str) -> str:
    """``tradetape.<token>.events``: the one subject of the session's stream."""
    return f"{PREFIX}.{token(session)}.events"


def msg_id(session: str, event_id: int) -> str:
    """The message id JetStream deduplicates a republish by: the session and the event's id."""
    return f"{token(session)}:{event_id}"
