"""Session names: the one rule every edge that takes a name applies (``check_session_name``).

A session name is Unicode text, shown to people and written everywhere a session goes: a
SQLite or PostgreSQL row, a ``.tape`` header, an anchor line, an HTML report, a shell command
quoted in that report. A valid name is therefore:

- not empty, and without leading or trailing whitespace (``str.strip``'s notion, so a
  no-break space counts): two names that print the same must not be two sessions;
- free of characters in the Unicode categories Cc (controls: newline, tab, NUL, which
  PostgreSQL cannot store, DEL, C1), Cf (format characters: bidirectional overrides and
  zero-width characters, which make a name display as another one; emoji joined with U+200D
  are refused with them), Cs (lone surrogates: not encodable in UTF-8, so not storable), Zl
  and Zp (line and paragraph separators, which split a line for ``str.splitlines`` and many
  viewers). Unassigned code points (Cn) are allowed: which code points are assigned changes
  with the Unicode version, and a name valid today must stay valid on a newer Python;
- at most ``MAX_SESSION_NAME`` characters (code points), the same on every backend.
  PostgreSQL's ``tt_sessions.name`` is VARCHAR(200) characters; the 72 left over are room for
  the internal prefix the store adds to a session while it is being written.

Anything ``export`` writes passes this check, so anything ``export`` accepts ``import`` accepts.
"""

from __future__ import annotations

import unicodedata

from .errors import BadInput

MAX_SESSION_NAME = 128
"""Characters (code points) in a session name; the store's own column holds 200."""

FORBIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
_SHOWN = 40  # characters of a refused name quoted in the message


def check_session_name(name: str, where: str) -> str:
    """``name`` if it is a valid session name (module docstring), else ``BadInput`` (exit 2)
    with a one-line message that starts with ``where`` (the flag, file or command it came from)."""
    problem = session_name_problem(name)
    if problem:
        raise BadInput(f"{where}: session name {_quote(name)} {problem}")
    return name


def session_name_problem(name: str) -> str:
    """What is wrong with ``name`` as a session name, or "" when nothing is."""
    if not name:
        return "is empty"
    if len(name) > MAX_SESSION_NAME:
        return f"is {len(name)} characters long, above the limit of {MAX_SESSION_NAME}"
    for i, ch in enumerate(name):
        category = unicodedata.category(ch)
        if category in FORBIDDEN_CATEGORIES:
            return f"holds U+{ord(ch):04X} ({category}, a control or format character) at character {i + 1}"
    if name != name.strip():
        return "begins or ends with whitespace"
    return ""


def _quote(name: str) -> str:
    """``repr`` escapes controls, separators and surrogates, so the message stays one line."""
    return repr(name) if len(name) <= _SHOWN else f"{name[:_SHOWN]!r}..."
