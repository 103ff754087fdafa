"""The engine version recorded in every session-started event and .tape header."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    ENGINE_VERSION = version("tradetape")
except PackageNotFoundError:  # running from a source tree that was never installed
    ENGINE_VERSION = "unknown"
