"""Readable differences between two projection views (used by ``audit diff`` and golden checks).

Views are flattened to ``path -> value`` with lists of records keyed by their identity
(``books[KX-1].best_yes_bid``, ``positions[KX-1].cost``), so a diff names the projection, the
market and the field that differ.
"""

from __future__ import annotations

from typing import Any

_KEYS = {"books": "market", "positions": "market", "open_orders": "order_id"}


def flatten(view: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in view.items():
        path = f"{prefix}{key}"
        ident = _KEYS.get(key)
        if ident and isinstance(value, list | tuple) and all(isinstance(v, dict) and ident in v for v in value):
            for item in value:
                out.update(flatten({k: v for k, v in item.items() if k != ident}, f"{path}[{item[ident]}]."))
        elif isinstance(value, dict):
            out.update(flatten(value, f"{path}."))
        else:
            out[path] = value
    return out


def differences(a: dict[str, Any], b: dict[str, Any], *, ignore: tuple[str, ...] = ()) -> list[tuple[str, Any, Any]]:
    """(path, value in a, value in b) for every path whose values differ, sorted by path."""
    fa, fb = flatten(a), flatten(b)
    missing = object()
    out = []
    for path in sorted(set(fa) | set(fb)):
        if path in ignore:
            continue
        va, vb = fa.get(path, missing), fb.get(path, missing)
        if va != vb:
            out.append((path, None if va is missing else va, None if vb is missing else vb))
    return out


def projection_of(path: str) -> str:
    """The top-level projection a flattened path belongs to (``books``, ``positions``, ...)."""
    return path.split("[", 1)[0].split(".", 1)[0]


def format_differences(diffs: list[tuple[str, Any, Any]], a_label: str, b_label: str, limit: int = 50) -> list[str]:
    lines = []
    by_proj: dict[str, list[tuple[str, Any, Any]]] = {}
    for d in diffs:
        by_proj.setdefault(projection_of(d[0]), []).append(d)
    shown = 0
    for proj in sorted(by_proj):
        lines.append(f"  {proj}: {len(by_proj[proj])} difference(s)")
        for path, va, vb in by_proj[proj]:
            if shown >= limit:
                break
            lines.append(f"    {path}: {a_label}={va!r} {b_label}={vb!r}")
            shown += 1
    if len(diffs) > limit:
        lines.append(f"  ... {len(diffs) - limit} more")
    return lines
