"""The live tests' key and source-store fixtures, reused here (``tests/live/conftest.py``)."""

from tests.live.conftest import key, src

__all__ = ["key", "src"]
