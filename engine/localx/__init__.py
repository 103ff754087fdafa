"""A local Kalshi-protocol exchange for tests and demos (issue 13 item 8).

The feed server (``engine.live.server.FeedServer``) plays a stored session over Kalshi's
WebSocket v2 protocol; with a ``LocalExchange`` it also serves Kalshi's REST order and portfolio
endpoints (``/trade-api/v2``) and the private channels ``fill``, ``user_orders`` and
``market_positions``, matching orders against the replayed book with the project's own paper
exchange (``engine.sim.core.SimCore``), one account per API key id.

Python API::

    from engine.localx import LocalExchange, running_exchange, parse_venue_faults

    ex = LocalExchange(cash=1000 * 10**6,          # each account's starting cash, money units
                       queue="prob:2",             # the venue's queue model (risk_averse | prob:N)
                       latency_ms=5.0,             # a write waits this long (wall clock) before acting
                       faults=parse_venue_faults("http429=0.05,self_cancel=0.01"),
                       seed=7,
                       public_key=None,            # or a PublicKey: verify every REST signature
                       public_keys=None,           # or {key_id: PublicKey}
                       step=False)                 # True: tests step the playback (play_until)
    async with running_exchange(events, exchange=ex, speed=0.0, verify=...) as run:
        run.ws_url      # ws://127.0.0.1:PORT/trade-api/ws/v2   (market data + private channels)
        run.rest_url    # http://127.0.0.1:PORT/trade-api/v2     (REST)
        run.server.begin()              # start the playback without a WS subscription
        await run.exchange.play_until(n)  # step mode: play the first n events, then hold
        run.exchange.release()          # step mode off: play to the end
        run.exchange.accounts[key_id].state   # the account's projections State

Or by hand: ``server = FeedServer(events, exchange=ex)``; ``await server.start()``;
``port = await ex.start(host, port)``; ... ``await ex.close()``; ``await server.close()``.
Accounts live as long as the exchange: a client that dies and reconnects with the same key id
finds its orders, fills and positions. The CLI: ``tradetape serve-feed SESSION --exchange``
(``engine.cli.live_cmds``), which prints ``exchange on http://127.0.0.1:PORT/trade-api/v2``.

Modules: ``exchange`` (LocalExchange), ``account`` (one key's core and records), ``orders``
(V2 order entry), ``reads`` and ``rest`` (the HTTP API), ``objects`` (Kalshi's JSON shapes),
``errors`` (Kalshi's error body and codes), ``ratelimit``, ``faults`` (venue faults),
``records`` (ids and per-order totals), ``harness`` (FeedServer + exchange together).
"""

from __future__ import annotations

from .exchange import DEFAULT_CASH, LocalExchange
from .faults import VenueFaults, parse_venue_faults
from .harness import Running, running_exchange
from .ratelimit import RateLimits

__all__ = ["DEFAULT_CASH", "LocalExchange", "RateLimits", "Running", "VenueFaults", "parse_venue_faults",
           "running_exchange"]
