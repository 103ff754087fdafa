"""Shared benchmark plumbing: run each measurement in a fresh child process (so peak RSS is
that measurement's own), alternate project and baseline, report medians, spread and ratio."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def child(script: Path, *args: str) -> dict[str, Any]:
    """Run ``script --child ARGS`` in a new interpreter; it prints one JSON line of results."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    out = subprocess.run(
        [sys.executable, str(script), "--child", *args], capture_output=True, text=True, env=env, check=False
    )
    if out.returncode != 0:
        sys.stderr.write(out.stderr)
        raise SystemExit(f"benchmark child failed: {' '.join(args)}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def summary(label: str, runs: list[dict[str, Any]]) -> dict[str, Any]:
    rates = [r["rate"] for r in runs]
    return {
        "label": label,
        "median": statistics.median(rates),
        "min": min(rates),
        "max": max(rates),
        "rss_mb": max(r["rss_mb"] for r in runs),
        "runs": rates,
    }


def report(title: str, n: int, project: dict[str, Any], baseline: dict[str, Any], target: float) -> bool:
    ratio = project["median"] / baseline["median"]
    print(f"\n{title}: {n:,} events, {len(project['runs'])} runs each (median, min-max, peak RSS)")
    for s in (project, baseline):
        print(
            f"  {s['label']:<46} {s['median']:>12,.0f} ev/s  ({s['min']:,.0f}-{s['max']:,.0f})  {s['rss_mb']:.0f} MB"
        )
    verdict = "meets" if ratio >= target else "BELOW"
    print(f"  ratio project/baseline = {ratio:.2f}x  ({verdict} the {target}x bar)")
    return ratio >= target


def rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
