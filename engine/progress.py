"""Progress bars on stderr for anything long; silent when stderr is not a terminal unless
forced, so piped data on stdout and JSON logs stay clean."""

from __future__ import annotations

import sys
from typing import Any

from tqdm import tqdm


def bar(total: int | None, desc: str, *, unit: str = "ev", enabled: bool | None = None, **kw: Any) -> tqdm:
    if enabled is None:
        enabled = sys.stderr.isatty()
    return tqdm(
        total=total,
        desc=desc,
        unit=unit,
        unit_scale=True,
        file=sys.stderr,
        disable=not enabled,
        leave=False,
        mininterval=0.5,
        **kw,
    )
