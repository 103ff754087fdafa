"""structlog, configured once by the CLI: JSON lines on stderr when stderr is not a terminal,
a readable console format when it is. Library code only calls ``structlog.get_logger()``."""

from __future__ import annotations

import logging
import sys
from typing import TextIO, cast

import structlog


def configure(level: str = "info", *, json: bool | None = None) -> None:
    if json is None:
        json = not sys.stderr.isatty()
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(file=cast(TextIO, _Stderr())),  # it only writes and flushes
        cache_logger_on_first_use=True,
    )


class _Stderr:
    """Whatever ``sys.stderr`` is when a line is written, not when logging was configured: a
    caller that swaps stderr (a test's capture, a notebook) and closes the old one must not
    leave the cached loggers writing to a closed file."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()
