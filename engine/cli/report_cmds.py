"""``tradetape report SESSION [--out FILE.html]``: any stored session's HTML report.

Imported, recorded, simulated, paper and venue sessions alike: the session is read with the
store's ordinary reader, which resolves a derived session's references to its source's market
events, and written by ``engine.report.html.write_report`` (the demo's writer), so the report's
digest is the one ``tradetape replay`` prints.

The output file: ``--out``, else ``SESSION.html`` in the current directory (the name with path
separators and characters Windows refuses replaced by ``_``). An existing file is overwritten
only when it is a tradetape report (``is_report``) or with ``--replace``; a directory never.
Nothing is written when the session cannot be read. Prints a JSON summary (path, bytes, fills,
charts, digest) to stdout.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any

from events.errors import BadInput
from events.store import read_all

from ..progress import bar
from .common import store_for
from .output import emit_json

_UNSAFE = re.compile(r'[/\\:*?"<>|]')
_NAME_MAX = 255  # bytes in a file name on the file systems we run on


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("report", parents=[common],
                       help="write a session's HTML report: interactive charts, one self-contained file")
    p.add_argument("session", help="a session in the store")
    p.add_argument("--out", type=Path, metavar="FILE.html",
                   help="where to write (default SESSION.html in the current directory)")
    p.add_argument("--replace", action="store_true",
                   help="overwrite FILE even if it is not a tradetape report")
    p.add_argument("--points", type=int, default=500, metavar="N",
                   help="sampled points per chart line (our fills come on top; default 500)")
    p.set_defaults(run=cmd_report)


def default_out(session: str) -> Path:
    """``SESSION.html`` in the current directory, the name made safe for a file name."""
    name = _UNSAFE.sub("_", session)
    if name.startswith("."):
        name = "_" + name[1:]
    name += ".html"
    if len(name.encode("utf-8")) > _NAME_MAX:
        raise BadInput(f"session {session!r}: too long for a file name; give --out")
    return Path(name)


def check_out(path: Path, *, replace: bool) -> None:
    """Refuse (``BadInput``) to write over a directory, or over a file that is not a report of
    ours unless ``replace``; refuse a missing parent directory."""
    from ..report.html import is_report

    if path.is_dir():
        raise BadInput(f"--out {path}: is a directory")
    if path.exists() and not replace and not is_report(path):
        raise BadInput(f"--out {path}: exists and is not a tradetape report; give --replace to overwrite it")
    if not path.parent.is_dir():
        raise BadInput(f"--out {path}: no such directory {str(path.parent)!r}")


async def cmd_report(args: argparse.Namespace) -> int:
    from ..report.html import write_report

    if args.points < 1:
        raise BadInput(f"--points {args.points}: must be at least 1")
    out: Path = args.out if args.out is not None else default_out(args.session)
    check_out(out, replace=args.replace)
    progress = sys.stderr.isatty()
    async with store_for(args.db, readonly=True) as store:
        info = await store.session(args.session)
        with bar(info.head_seq, f"read {args.session}", enabled=progress) as pbar:
            events = await read_all(store, args.session, progress=pbar.update)
    summary = write_report(events, out, title=f"tradetape report: {args.session}", sample=args.points,
                           head_hash=info.head_hash.hex(), progress=progress)
    emit_json(summary)
    return 0
