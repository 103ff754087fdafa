"""Connecting to NATS (the maintained ``nats-py`` client) with one-line errors.

``connect`` refuses a URL that is not ``nats://``/``tls://`` (and ``ws(s)://``) and turns an
unreachable server into ``FanoutError`` naming the URL with its credentials masked; nats-py's
own reconnect loop is kept for a server that goes away later (``max_reconnect_attempts``),
its errors logged once per kind, never with the URL's password or token.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import nats
import structlog
from nats.aio.client import Client as NATS
from nats.errors import Error as NatsError
from nats.js import JetStreamContext

from events.errors import TradetapeError

from .names import DEFAULT_NATS

log = structlog.get_logger()

__all__ = ["DEFAULT_NATS", "FanoutError", "check_nats_url", "connect", "nats_errors", "redact_nats", "servers_of"]

_SCHEMES = ("nats", "tls", "ws", "wss")
_USERINFO = re.compile(r"//([^/@:,]*)(?::([^/@,]*))?@")


class FanoutError(TradetapeError):
    """NATS or JetStream could not do what was asked (unreachable, refused, out of order)."""

    exit_code = 3


def redact_nats(url: str) -> str:
    """``url`` (one server or a comma-separated list) with any user password or token replaced
    by ``***``; never raises, whatever the text."""

    def mask(m: re.Match[str]) -> str:
        user, password = m.group(1), m.group(2)
        return f"//{user}:***@" if password is not None else "//***@"

    return _USERINFO.sub(mask, url)


def servers_of(url: str, where: str = "--nats") -> list[str]:
    """The servers of ``url`` (NATS' comma-separated list notation), each a ``nats://``,
    ``tls://`` or ``ws(s)://`` URL with a host and a valid port, else ``FanoutError`` (one line)."""
    out = [u.strip() for u in url.split(",") if u.strip()]
    for u in out:
        try:
            parts = urlsplit(u)
            ok = parts.scheme in _SCHEMES and bool(parts.hostname)
            parts.port  # noqa: B018  (raises ValueError for a port out of range)
        except ValueError:
            ok = False
        if not ok:
            raise FanoutError(f"{where} {redact_nats(u)!r}: not a NATS URL (nats://HOST:PORT)")
    if not out:
        raise FanoutError(f"{where}: no NATS server given (nats://HOST:PORT)")
    return out


def check_nats_url(url: str, where: str = "--nats") -> str:
    servers_of(url, where)
    return url


async def connect(url: str = DEFAULT_NATS, *, name: str = "tradetape", timeout: float = 5.0,
                  max_reconnect_attempts: int = -1) -> NATS:
    """A connected client, or ``FanoutError`` (one line) when the server cannot be reached.
    Once connected it reconnects for ever by default (``max_reconnect_attempts=-1``): a live
    session's publisher and a watcher outlive any outage (nats-py closes a client for good when
    its budget runs out)."""
    servers = servers_of(url)
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
        nc = await nats.connect(servers=servers, name=name, connect_timeout=timeout, allow_reconnect=True,
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


@contextmanager
def nats_errors(what: str) -> Iterator[None]:
    """nats-py's errors (JetStream off, a request timing out, a stream gone) as one-line
    ``FanoutError``s naming ``what`` was being done."""
    try:
        yield
    except FanoutError:
        raise
    except (NatsError, TimeoutError, OSError) as exc:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise FanoutError(f"{what}: {type(exc).__name__}{': ' + detail if detail else ''}"[:300]) from None
