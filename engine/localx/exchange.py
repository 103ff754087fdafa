"""``LocalExchange``: the accounts, the venue's settings and faults, the private channels, the
playback gate, and the REST server's life (``rest.build_app``).

It is the ``Venue`` of ``engine.live.server.FeedServer``: bound once, told every played batch
(each account's core reacts to every event, in order; then the venue's ``self_cancel`` fault and
GTC expiries), asked for each connection's private frames. Private frames carry no ``seq``
(kalshi-protocol.md §0.7): ``{"type", "sid", "msg"}``. A private subscription sees what happens
after it is made, for the account of the key its connection's upgrade carried, filtered by its
``market_ticker(s)`` (§3.4-3.6); a connection without a key gets none.

The venue differs from a client's paper model where it is configured to: its queue model
(``queue``, e.g. ``prob:2``; ``projections.queue``) and its latency (``latency_ms``: wall-clock
seconds a write waits before it acts, during which the playback goes on), besides its faults
(``engine.localx.faults``). Accounts outlive connections: a client that dies and comes back with
the same key finds its orders, fills and positions.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Mapping, Sequence

from aiohttp import web

from events.errors import BadInput
from events.types import EventBase
from events.units import MONEY_PER_DOLLAR

from ..live import frames as fr
from ..live.auth import PublicKey
from ..live.playback import shifted
from ..live.protocol import ERRORS, Out, Session
from ..live.server import FeedServer
from ..sim.config import ExchangeConfig
from ..sim.fees import DEFAULT_TABLE, FeeTable
from .account import Account
from .faults import VenueDice, VenueFaults
from .ratelimit import Limiter, RateLimits
from .rest import build_app

PRIVATE_CHANNELS = frozenset({"fill", "user_orders", "market_positions"})
DEFAULT_CASH = 1000 * MONEY_PER_DOLLAR


class LocalExchange:
    """A Kalshi-protocol exchange trading against a ``FeedServer``'s playback (module docstring).

    ``cash``: each account's starting cash (money, $0.000001); ``queue``/``latency_ms``/``fees``:
    the venue's exchange model; ``public_keys`` (key id → key) and/or ``public_key`` (any key id)
    verify every REST signature, else the three headers must be there (``require_auth=False``:
    not even that); ``limits``: Kalshi's rate limits (``RateLimits(read_per_s=0,
    write_per_s=0)`` turns them off); ``hang_s``: how long a lost reply is held
    (``timeout_after_accept``); ``step``: the playback waits in ``between`` until
    ``play_until`` lets it on (tests)."""

    def __init__(self, *, cash: int = DEFAULT_CASH, queue: str = "risk_averse", latency_ms: float = 0.0,
                 fees: FeeTable = DEFAULT_TABLE, faults: VenueFaults = VenueFaults(),  # noqa: B008 (frozen)
                 seed: int = 0, public_keys: Mapping[str, PublicKey] | None = None, public_key: PublicKey | None = None,
                 require_auth: bool = True, limits: RateLimits = RateLimits(),  # noqa: B008 (frozen)
                 hang_s: float = 0.0, step: bool = False) -> None:
        if cash < 0 or latency_ms < 0 or hang_s < 0:
            raise BadInput("venue cash, latency and hang must not be negative")
        self.cfg = ExchangeConfig(fees=fees, queue=queue)  # latency is wall-clock here (module docstring)
        self.cash = cash
        self.latency_s = latency_ms / 1000
        self.seed = seed
        self.public_keys = dict(public_keys or {})
        self.public_key = public_key
        self.require_auth = require_auth
        self.limiter = Limiter(limits)
        self.dice = VenueDice(faults, seed)
        self.hang_s = hang_s
        self.step = step
        self.accounts: dict[str, Account] = {}
        self.history: list[EventBase] = []  # every market event played, in order
        self.server: FeedServer | None = None
        self.shift = 0
        self._cursors: weakref.WeakKeyDictionary[Session, dict[int, int]] = weakref.WeakKeyDictionary()
        self._doomed: set[tuple[int, int]] = set()  # (id(session), sid) of the drop_private subscription
        self._limit = 0
        self._cond: asyncio.Condition | None = None
        self._runner: web.AppRunner | None = None

    # --- the feed server's side ------------------------------------------------------------

    def bind(self, server: FeedServer) -> None:
        self.server = server
        self.shift = server.shift

    def played(self, events: Sequence[EventBase]) -> None:
        # The playback moves exchange-side times (open, close) by ``shift`` but not event time
        # (``playback.shifted``); the accounts see the recorded times, so that both agree, and
        # what they report is moved by ``shift`` on the way out.
        if self.shift:
            events = [shifted(e, -self.shift) for e in events]
        self.history.extend(events)
        for acct in self.accounts.values():
            for e in events:
                acct.market(e)
        if events:
            self._venue_cancels(events[-1].ts)

    def _venue_cancels(self, ts: int) -> None:
        for acct in self.accounts.values():
            resting = acct.resting()
            if not resting:
                continue
            now_s = (ts + self.shift) // 1_000_000_000
            expired = [v for v in resting if v.expiration_s is not None and v.expiration_s <= now_s]
            acct.venue_cancel(expired, ts, "expired")
            acct.venue_cancel([v for v in resting if v not in expired and self.dice.self_cancel()], ts,
                              "venue self-cancel")

    async def between(self) -> None:
        cond = self._condition()
        async with cond:
            cond.notify_all()
            if self.step:
                await cond.wait_for(lambda: not self.step or len(self.history) < self._limit)

    def private(self, key_id: str | None, session: Session) -> list[Out]:
        if not key_id:
            return []
        acct = self.account(key_id)
        cursors = self._cursors.setdefault(session, {})
        out: list[Out] = []
        for sid, sub in list(session.subs.items()):
            if sub.channel not in PRIVATE_CHANNELS:
                continue
            if sid not in cursors:
                cursors[sid] = len(acct.private)
                if self.dice.new_private():
                    self._doomed.add((id(session), sid))
                continue
            start, cursors[sid] = cursors[sid], len(acct.private)
            items = [it for it in acct.private[start:] if it[0] == sub.channel
                     and (sub.markets is None or it[1] in sub.markets)]
            if not items:
                continue
            if (id(session), sid) in self._doomed:
                self._doomed.discard((id(session), sid))
                out.append(fr.reply("error", sid=sid, msg={"code": 10, "msg": ERRORS[10]}))
                del session.subs[sid]
                session.routes.clear()
                continue
            out += [b'{"type":"%s","sid":%d,"msg":%s}' % (kind.encode(), sid, msg) for _, _, kind, msg in items]
        return out

    # --- accounts, clock, gate ----------------------------------------------------------------

    def account(self, key_id: str) -> Account:
        acct = self.accounts.get(key_id)
        if acct is None:
            acct = self.accounts[key_id] = Account(key_id, self.cfg, self.cash, self.seed, self.shift, self.history)
        return acct

    def push(self) -> None:
        """Deliver the private frames a REST action queued."""
        if self.server is not None:
            self.server.push_private()

    def _condition(self) -> asyncio.Condition:
        if self._cond is None:
            self._cond = asyncio.Condition()
        return self._cond

    async def play_until(self, n: int) -> None:
        """Step mode: let the playback go on until ``n`` events (at most all) have been played,
        and return once they have (each account has reacted)."""
        assert self.server is not None, "bind to a FeedServer first"
        n = min(n, len(self.server.playback.items))
        cond = self._condition()
        async with cond:
            self._limit = max(self._limit, n)
            cond.notify_all()
            await cond.wait_for(lambda: len(self.history) >= n)

    def release(self) -> None:
        """Leave step mode: the playback runs to its end."""
        self.step = False
        if self._cond is not None:
            asyncio.get_running_loop().create_task(self._notify())

    async def _notify(self) -> None:
        cond = self._condition()
        async with cond:
            cond.notify_all()

    # --- the REST server -------------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        """Serve the REST API under ``/trade-api/v2``; returns the bound port."""
        self._runner = web.AppRunner(build_app(self), access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        server = site._server  # aiohttp exposes the bound port only here
        assert isinstance(server, asyncio.base_events.Server)
        return int(server.sockets[0].getsockname()[1])

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
