"""``tradetape golden check|update``: golden-file regression over ``replays/``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from .. import golden


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    g = sub.add_parser("golden", help="golden-file regression over the shipped sessions")
    gsub = g.add_subparsers(dest="golden_command", required=True, metavar="GOLDEN_COMMAND")
    for name, fn, text in (
        ("check", cmd_check, "replay each session and compare with its expected outputs (exit 1 on a difference)"),
        ("update", cmd_update, "regenerate the expected outputs from the sessions"),
    ):
        p = gsub.add_parser(name, help=text)
        p.add_argument("names", nargs="*", help="session folder names (default: all)")
        p.add_argument("--dir", type=Path, default=golden.REPLAYS, help="folder of golden sessions")
        p.set_defaults(run=fn)


async def cmd_check(args: argparse.Namespace) -> int:
    failed = 0
    for d in golden.sessions(args.dir, args.names):
        problems = golden.check(d)
        if problems:
            failed += 1
            print(f"golden {d.name}: FAILED")
            for line in problems:
                print(f"  {line}")
        else:
            print(f"golden {d.name}: ok")
    if failed:
        print(f"{failed} golden session(s) differ; if the change is intended run `tradetape golden update` "
              "and commit the new expected.json with the reason", file=sys.stderr)
    return 1 if failed else 0


async def cmd_update(args: argparse.Namespace) -> int:
    for d in golden.sessions(args.dir, args.names):
        changed = golden.update(d)
        print(f"golden {d.name}: {'updated' if changed else 'unchanged'}")
    return 0
