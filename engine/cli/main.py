"""``tradetape``: the command line. Data goes to stdout, logs and errors to stderr.

Exit codes: 0 ok; 1 verification found a problem (chain, golden, diff); 2 bad input or usage
(nothing written); 3 fail-stop on a storage or feed failure. Errors are one line; ``--debug``
adds the traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import traceback
from collections.abc import Sequence

from events.errors import TradetapeError
from events.version import ENGINE_VERSION

from .. import logs
from . import (
    audit_cmds,
    demo_cmd,
    fanout_cmds,
    golden_cmds,
    live_cmds,
    report_cmds,
    rl_cmds,
    sim_cmds,
    store_cmds,
    sweep_cmds,
    trade_cmds,
)

DB_HELP = "store: a SQLite path or postgresql:// URL (default $TRADETAPE_DB or ./tradetape.db)"


def build_parser() -> argparse.ArgumentParser:
    # --db is accepted before or after the command; SUPPRESS keeps a sub-command's default
    # from overwriting a value given before it.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--db", metavar="URL", default=argparse.SUPPRESS, help=DB_HELP)
    p = argparse.ArgumentParser(
        prog="tradetape",
        description="Event-sourced trading engine for binary prediction markets.",
    )
    p.add_argument("--version", action="version", version=f"tradetape {ENGINE_VERSION}",
                   help="print the engine version and exit")
    p.add_argument("--db", metavar="URL", default=None, help=DB_HELP)
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    p.add_argument("--log-level", default="warning", help="structlog level (default warning)")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    store_cmds.register(sub, common)
    audit_cmds.register(sub, common)
    golden_cmds.register(sub, common)
    sim_cmds.register(sub, common)
    rl_cmds.register(sub, common)
    live_cmds.register(sub, common)
    trade_cmds.register(sub, common)
    fanout_cmds.register(sub, common)
    report_cmds.register(sub, common)
    demo_cmd.register(sub, common)
    sweep_cmds.register(sub, common)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logs.configure(args.log_level)
    try:
        code = asyncio.run(args.run(args))
    except TradetapeError as exc:
        if args.debug:
            traceback.print_exc()
        print(f"tradetape: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("tradetape: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    return int(code or 0)


if __name__ == "__main__":
    sys.exit(main())
