"""SIGINT/SIGTERM for the live commands. asyncio installs signal handlers only on POSIX and in
the main thread (elsewhere ``add_signal_handler`` raises); every installer asks
``handlers_possible`` first rather than catching that failure."""

from __future__ import annotations

import asyncio
import signal
import sys
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def handlers_possible() -> bool:
    return sys.platform != "win32" and threading.current_thread() is threading.main_thread()


@asynccontextmanager
async def stop_signals() -> AsyncIterator[asyncio.Event]:
    """An event that SIGINT or SIGTERM sets while the block runs (never set where handlers
    cannot be installed); the handlers are removed after it."""
    stop = asyncio.Event()
    if not handlers_possible():
        yield stop
        return
    loop = asyncio.get_running_loop()
    for sig in STOP_SIGNALS:
        loop.add_signal_handler(sig, stop.set)
    try:
        yield stop
    finally:
        for sig in STOP_SIGNALS:
            loop.remove_signal_handler(sig)
