"""Reading chain anchors: an anchor file's lines, or one anchor given inline.

The writer is ``engine.anchors``; the line format is ``events.chain.format_anchor`` (old
``SESSION SEQ HEX`` lines are read as ``chain.parse_anchor_line`` says); ``verify_session``
checks the ``(seq, hash)`` pairs returned here.
"""

from __future__ import annotations

import os

from . import chain
from .errors import BadInput

AT_HEAD = -1
"""Anchor seq meaning "the stored head": a bare hash anchor names no seq of its own."""


def parse_anchors(text: str, *, session: str | None = None) -> list[tuple[int, bytes]]:
    """The anchors ``(seq, hash)`` to check, from an anchor file or inline text.

    A file holds anchor lines (``events.chain.format_anchor``; old ``SESSION SEQ HEX`` lines
    are read as ``parse_anchor_line`` says): EVERY line for ``session`` is returned, in file
    order, and every one must hold. Without ``session`` the file must hold one session's
    anchors only. Inline: one anchor line (JSON or old format), ``SEQ:HEX``, or a bare 64-digit
    hex hash, whose seq is then the stored head (``AT_HEAD``).
    """
    if os.path.isfile(text):
        try:
            with open(text, "rb") as f:
                data = f.read()
        except OSError as exc:
            raise BadInput(f"anchor file {text}: cannot read: {exc.strerror or exc}") from None
        lines = anchor_lines(data, f"anchor file {text}")
        names = {a.session for _, a in lines}
        if session is None and len(names) > 1:
            raise BadInput(f"anchor file {text}: holds anchors of {len(names)} sessions; name the session")
        found = [(n, a) for n, a in lines if session is None or a.session == session]
        if not found:
            whose = f" for session {session!r}" if session is not None else ""
            raise BadInput(f"anchor file {text}: no anchor line{whose}")
        return [_anchor(str(a.seq), a.hash, f"{text}:{n}") for n, a in found]
    if os.path.exists(text):
        raise BadInput(f"anchor {text}: not a regular file")
    stripped = text.strip()
    if stripped.startswith("{") or len(stripped.split()) == 3:
        try:
            line = chain.parse_anchor_line(stripped.encode("utf-8", "surrogateescape"))
        except ValueError as exc:
            raise BadInput(f"anchor {text[:80]!r}: {exc}") from None
        if line is None:
            raise BadInput(f"anchor {text[:80]!r}: not an anchor line, SEQ:HASH or HASH")
        if session is not None and line.session != session:
            raise BadInput(f"anchor {text[:80]!r} is for session {line.session!r}, not {session!r}")
        return [_anchor(str(line.seq), line.hash, "anchor")]
    seq_text, sep, hex_text = stripped.partition(":")
    if not sep:
        return [_anchor(None, seq_text, "anchor")]
    return [_anchor(seq_text, hex_text, "anchor")]


def anchor_lines(data: bytes, where: str) -> list[tuple[int, chain.Anchor]]:
    """``(line number, anchor)`` for each anchor line in an anchor file's bytes. Lines are split
    on ``\n`` only (a name cannot hold one: JSON escapes it); a line that starts with ``{``
    but is not an anchor object is ``BadInput`` naming ``where`` and the line."""
    out: list[tuple[int, chain.Anchor]] = []
    for n, line in enumerate(data.split(b"\n"), 1):
        try:
            anchor = chain.parse_anchor_line(line)
        except ValueError as exc:
            raise BadInput(f"{where}: line {n}: {exc}; repair or remove the line") from None
        if anchor is not None:
            out.append((n, anchor))
    return out


def _anchor(seq_text: str | None, hex_text: str, where: str) -> tuple[int, bytes]:
    try:
        head = bytes.fromhex(hex_text)
    except ValueError:
        head = b""
    if len(head) != 32:
        raise BadInput(f"{where}: {hex_text[:80]!r} is not a 64-digit hex chain hash")
    if seq_text is None:
        return AT_HEAD, head
    if not (seq_text.isascii() and seq_text.isdigit()):
        raise BadInput(f"{where}: {seq_text[:40]!r} is not a sequence number")
    return int(seq_text), head
