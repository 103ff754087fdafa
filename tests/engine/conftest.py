"""Running the real ``tradetape`` command in a subprocess, as a user does."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


class Result:
    def __init__(self, p: subprocess.CompletedProcess[str]) -> None:
        self.code, self.out, self.err = p.returncode, p.stdout, p.stderr


def run(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> Result:
    full_env = dict(os.environ, PYTHONPATH=str(ROOT), **(env or {}))
    full_env.pop("TRADETAPE_DB", None)
    p = subprocess.run([sys.executable, "-m", "engine.cli.main", *args], capture_output=True, text=True,
                       cwd=cwd, env=full_env, timeout=120, check=False)
    return Result(p)


def files_digest(directory: Path) -> dict[str, str]:
    """Name -> sha256 of every file under ``directory`` (to prove nothing was written)."""
    return {str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(directory.rglob("*")) if p.is_file()}


@pytest.fixture
def small_store(tmp_path: Path) -> Path:
    db = tmp_path / "t.db"
    r = run("--db", str(db), "generate", "s", "--events", "3000", "--seed", "5", "--markets", "6")
    assert r.code == 0, r.err
    return db
