"""The live tests' source-store fixture, reused here (``tests/live/conftest.py``; the key
fixture is in ``tests/conftest.py``)."""

from tests.live.conftest import src

__all__ = ["src"]
