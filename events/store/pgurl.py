"""PostgreSQL URL parameters: libpq's names, as asyncpg takes them.

SQLAlchemy's asyncpg dialect passes a URL's query parameters to ``asyncpg.connect`` as keyword
arguments, so ``?sslmode=require`` (libpq's spelling) was a ``TypeError`` traceback. This maps
the parameters a PostgreSQL user writes and refuses any other by name, in one line.
"""

from __future__ import annotations

import math
from typing import Any

from sqlalchemy.engine import make_url

from ..errors import StoreOpenError

# PostgreSQL URL parameters (libpq's names) and what asyncpg calls them.
_PG_PARAMS = {
    "sslmode": "ssl", "ssl": "ssl", "connect_timeout": "timeout", "command_timeout": "command_timeout",
    "application_name": "application_name",
}
_SSLMODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")


def pg_connect_args(sa_url: str) -> tuple[str, dict[str, Any]]:
    """The URL without its query, and asyncpg's connect arguments for the parameters in it:
    ``sslmode`` (libpq's values), ``connect_timeout``, ``command_timeout``, ``application_name``.
    Any other parameter is refused by name, in one line (asyncpg would raise a TypeError)."""
    u = make_url(sa_url)
    args: dict[str, Any] = {}
    for key, value in u.query.items():
        name = _PG_PARAMS.get(key)
        text_value = value if isinstance(value, str) else value[-1]
        if name is None:
            raise StoreOpenError(
                f"database URL parameter {key!r} is not supported (use {', '.join(sorted(_PG_PARAMS))})"
            )
        if name == "ssl" and text_value not in _SSLMODES:
            raise StoreOpenError(f"database URL: {key}={text_value!r} is not one of {', '.join(_SSLMODES)}")
        if name in ("timeout", "command_timeout"):
            try:
                seconds = float(text_value)
            except ValueError:
                seconds = math.nan
            if not 0 < seconds < math.inf:
                raise StoreOpenError(f"database URL: {key}={text_value!r} is not a number of seconds above 0")
            args[name] = seconds
        elif name == "application_name":
            args.setdefault("server_settings", {})["application_name"] = text_value
        else:
            args[name] = text_value
    return u.set(query={}).render_as_string(hide_password=False), args
