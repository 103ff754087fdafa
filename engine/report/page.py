"""Writing an HTML page whole: the report, the calibration page and the sweep report."""

from __future__ import annotations

import os
from pathlib import Path


def write_page(path: Path, parts: list[str]) -> int:
    """Join ``parts`` with newlines and write them to ``path`` through a temporary file renamed
    over it (a reader never sees half a page); returns the bytes written."""
    data = "\n".join(parts).encode("utf-8")
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    return len(data)
