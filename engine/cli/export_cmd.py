"""``tradetape export``: a session to a portable ``.tape`` file, or to tables (Parquet, CSV).

    tradetape export SESSION FILE.tape [--no-compress] [--replace]          # --format tape, as ever
    tradetape export SESSION --table fills [--table equity ...] [--format parquet|csv] [--out PATH] [--replace]

A positional FILE means a tape (``events.tape``); ``--table`` means tables, Parquet unless
``--format csv``. The two are never mixed: a tape takes no ``--table``/``--out``, tables take no
FILE or ``--no-compress``. Tables are built by ``engine.tables.build_tables`` (the Python API's
code path) and written by ``engine.tables.write``: targets checked before anything is read,
nothing overwritten without ``--replace``, each file written whole or not at all.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from events.errors import BadInput

from .common import store_for
from .output import emit_json

TABLES_HELP = "a table to export (repeatable): events, fills, orders, equity, book-top"


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("export", parents=[common],
                       help="export a session to a portable .tape file, or its tables to Parquet or CSV")
    p.add_argument("session", help="the session to export")
    p.add_argument("file", type=Path, nargs="?", help="the .tape file to write (--format tape)")
    p.add_argument("--format", dest="fmt", metavar="FORMAT",
                   help="tape (with FILE, the default), parquet (with --table, the default) or csv")
    p.add_argument("--table", action="append", default=[], metavar="TABLE", help=TABLES_HELP)
    p.add_argument("--out", type=Path, metavar="PATH",
                   help="the table's file (default SESSION-TABLE.parquet or .csv), or a directory for several")
    p.add_argument("--no-compress", action="store_true", help="write the tape's body without zstd")
    p.add_argument("--replace", action="store_true", help="overwrite an existing file of the same kind (a .tape, "
                                                          "a .parquet, a .csv; nothing else is ever overwritten)")
    p.set_defaults(run=cmd_export)


async def cmd_export(args: argparse.Namespace) -> int:
    fmt = args.fmt or ("parquet" if args.table and args.file is None else "tape")
    if fmt == "tape":
        return await _tape(args)
    return await _tables(args, fmt)


async def _tape(args: argparse.Namespace) -> int:
    from events.tape import export_tape

    if args.table or args.out is not None:
        raise BadInput("export: --table and --out write tables (--format parquet or csv), not a .tape")
    if args.file is None:
        raise BadInput("export: give FILE (a .tape to write), or --table TABLE for Parquet or CSV tables")
    async with store_for(args.db, readonly=True) as store:
        summary = await export_tape(store, args.session, args.file, compress=not args.no_compress,
                                    replace=args.replace)
    emit_json(summary)
    return 0


async def _tables(args: argparse.Namespace, fmt: str) -> int:
    from ..tables import build_tables, table_name
    from ..tables.write import check_format, targets, write_tables

    check_format(fmt)
    if args.file is not None:
        raise BadInput(f"export: {args.file}: tables are written to --out PATH, not to a positional FILE")
    if args.no_compress:
        raise BadInput("export: --no-compress applies to a .tape")
    if not args.table:
        raise BadInput(f"export: --format {fmt} needs --table TABLE (events, fills, orders, equity, book-top)")
    names = list(dict.fromkeys(table_name(t) for t in args.table))
    paths = targets(args.session, names, fmt, args.out, args.replace)
    async with store_for(args.db, readonly=True) as store:
        tables = await build_tables(store, args.session, names)
    write_tables(tables, paths, fmt)
    emit_json({"session": args.session, "format": fmt,
               "tables": [{"table": n, "file": str(paths[n]), "rows": tables[n].num_rows} for n in names]})
    return 0
