"""Writing tables to Parquet or CSV files: where they go, what may be replaced, atomically.

Targets: one table goes to ``out`` (default ``SESSION-TABLE.parquet`` or ``.csv`` in the
current directory; an existing directory gets that name inside it); several tables go into
the directory ``out`` (default the current one), each as ``SESSION-TABLE.EXT``. A session name
is made a file name by replacing path separators with ``_``.

Every target is checked before the session is read: an existing one is refused unless
``replace``, and even then only a file of the same kind is replaced (a ``.parquet`` file that
starts with Parquet's magic, or a ``.csv`` file): an export never overwrites a store, a tape or
anyone's other file. Each table is written to a temporary file beside its target, fsynced and
renamed over it, so an error leaves no half-written file; the temporary files of a failed
export are removed.

Parquet keeps the Arrow schema exactly (``int64``, ``timestamp[ns, tz=UTC]``, the schema's
metadata). CSV is text: every string is quoted and a null is an empty field, so
``read_csv`` with the table's schema gives the same table back (an empty string stays one).
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
from collections.abc import Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from events.errors import BadInput

FORMATS = ("parquet", "csv")
PARQUET_MAGIC = b"PAR1"


def check_format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise BadInput(f"--format {fmt!r}: one of tape, {', '.join(FORMATS)}")
    return fmt


_SEPARATORS = re.compile(r"[/\\]")


def file_name(session: str, table: str, fmt: str) -> str:
    return f"{_SEPARATORS.sub('_', session)}-{table}.{fmt}"


def targets(session: str, tables: Sequence[str], fmt: str, out: Path | None, replace: bool) -> dict[str, Path]:
    """table -> the file it goes to, every one checked (module docstring)."""
    if len(tables) == 1 and not (out is not None and out.is_dir()):
        paths = {tables[0]: out if out is not None else Path(file_name(session, tables[0], fmt))}
    else:
        folder = out if out is not None else Path(".")
        if not folder.is_dir():
            raise BadInput(f"--out {folder}: with several tables --out is an existing directory")
        paths = {t: folder / file_name(session, t, fmt) for t in tables}
    for path in paths.values():
        _check_target(path, fmt, replace)
        if not path.parent.is_dir():
            raise BadInput(f"{path}: directory {path.parent} does not exist")
    return paths


def _check_target(path: Path, fmt: str, replace: bool) -> None:
    if not os.path.lexists(path):
        return
    if not replace:
        raise BadInput(f"{path}: already exists (give --replace to overwrite a .{fmt} file)")
    if path.is_symlink() or not path.is_file() or path.suffix != f".{fmt}":
        raise BadInput(f"{path}: exists and is not a .{fmt} file; refusing to replace it")
    if fmt == "parquet":
        try:
            with open(path, "rb") as f:
                head = f.read(len(PARQUET_MAGIC))
        except OSError as exc:
            raise BadInput(f"{path}: cannot check what it is: {exc.strerror or exc}") from None
        if head != PARQUET_MAGIC:
            raise BadInput(f"{path}: exists and is not a Parquet file; refusing to replace it")


def write_tables(tables: dict[str, pa.Table], paths: dict[str, Path], fmt: str) -> None:
    """Write each table to its path (temporary file, fsync, rename); on error none is left."""
    tmps: dict[str, str] = {}
    try:
        for name, table in tables.items():
            target = paths[name]
            # O_EXCL with a fresh name, mode 0o666 less the umask (as any new file; mkstemp's 0o600 is not)
            tmp = str(target.parent / f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            tmps[name] = tmp
            with os.fdopen(fd, "wb") as f:
                if fmt == "parquet":
                    pq.write_table(table, f)
                else:
                    pacsv.write_csv(table, f)
                f.flush()
                os.fsync(f.fileno())
        for name, tmp in list(tmps.items()):
            os.replace(tmp, paths[name])
            del tmps[name]
            _fsync_dir(paths[name].parent)
    except OSError as exc:
        raise BadInput(f"writing {exc.filename or 'a table'} failed: {exc.strerror or exc}") from None
    finally:
        for tmp in tmps.values():
            with contextlib.suppress(OSError):
                os.unlink(tmp)


def _fsync_dir(folder: Path) -> None:
    """Make a rename durable (POSIX: the directory entry); a platform without it is left be."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)


def read_csv(path: Path, schema: pa.Schema) -> pa.Table:
    """A table written as CSV, read back with its schema's types (and metadata)."""
    opts = pacsv.ConvertOptions(column_types={f.name: f.type for f in schema}, strings_can_be_null=True,
                                quoted_strings_can_be_null=False)
    t = pacsv.read_csv(path, convert_options=opts)
    return t.select(schema.names).cast(schema)
