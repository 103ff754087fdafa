"""Connecting to NATS (the maintained ``nats-py`` client) with one-line errors.

``connect`` refuses a URL that is not ``nats://``/``tls://`` (and ``ws(s)://``) and turns an
unreachable server into ``FanoutError`` naming the URL with its credentials masked; nats-py's
own reconnect loop is kept for a server that goes away later (``max_reconnect_attempts``),
its errors logged once per kind, never with the URL's password or token.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

import nats
import structlog
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext

from events.errors import TradetapeError

log = structlog.get_logger()

DEFAULT_NATS = "nats://127.0.0.1:4222"
_SCHEMES = ("nats", "tls", "ws", "wss")


class FanoutError(TradetapeError):
    """NATS or JetStream could not do what was asked (unreachable, refused, out of order)."""

    exit_code = 3


def redact_nats(url: str) -> str:
    """``url`` with any user password or token replaced by ``***``."""
    parts = urlsplit(url)
    if parts.password is None and parts.username is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    who = "***" if parts.password is None else f"{parts.username}:***"
    return urlunsplit((parts.scheme, f"{who}@{host}", parts.path, parts.query, parts.fragment))


def check_nats_url(url: str, where: str = "--nats") -> str:
    scheme = urlsplit(url).scheme
    if scheme not in _SCHEMES or not urlsplit(url).hostname:
        raise FanoutError(f"{where} {redact_nats(url)!r}: not a NATS URL (nats://HOST:PORT)")
    return url


async def connect(url: str = DEFAULT_NATS, *, name: str = "tradetape", timeout: float = 5.0,
                  max_reconnect_attempts: int = 60) -> NATS:
    """A connected client, or ``FanoutError`` (one line) when the server cannot be reached."""
    check_nats_url(url)
    shown = redact_nats(url)
    seen: set[str] = set()
    first: list[str] = []  # why the first connect failed (nats-py then says only NoServersError)

    async def on_error(exc: Exception) -> None:
        kind = type(exc).__name__
        if not connected:
            first.append(kind)
        elif kind not in seen:  # once per kind: a server away for a minute is not 60 lines
            seen.add(kind)
            log.warning("nats connection error", server=shown, error=kind)

    connected = False
    try:
        # nats-py spends max_reconnect_attempts on the first connect too: one retry there, the
        # full count once connected (a server that goes away later is waited for)
        nc = await nats.connect(url, name=name, connect_timeout=timeout, allow_reconnect=True,
                                max_reconnect_attempts=1, reconnect_time_wait=0.5, error_cb=on_error)
    except Exception as exc:  # nats-py raises its own errors, OSError and TimeoutError here
        why = first[0] if first else type(exc).__name__
        raise FanoutError(f"NATS at {shown} is unreachable: {why}") from None
    connected = True
    nc.options["max_reconnect_attempts"] = max_reconnect_attempts
    return nc


def jetstream(nc: NATS, timeout: float = 10.0) -> JetStreamContext:
    return nc.jetstream(timeout=timeout)


def config_kw(**kw: Any) -> dict[str, Any]:
    """Stream settings every tradetape stream shares: file storage, one replica (a cluster
    sets more with ``nats stream edit``)."""
    return {"storage": "file", "num_replicas": 1, **kw}
