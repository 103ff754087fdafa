"""The commands a feed client sends (kalshi-protocol.md §2.1), and what each asked, so that
replies can be read: a ``subscribed`` reply carries only its command's ``id`` and the new sid,
and the markets it holds are those its command named (AsyncAPI subscribeCommandPayload,
updateSubscriptionCommandPayload).

Ids count up from 1 for the life of the client (unique within a session, as the spec asks;
``id`` 0 means none). A subscribe names at most ``per_command`` markets; the rest are added,
``per_command`` at a time, with ``update_subscription``/``add_markets`` on the new sid once its
``subscribed`` reply arrives (``later``). A recording's own commands are learnt (``learn``)
instead: nothing is ever sent for a recording.
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from ..kalshi import wire

BOOK = "orderbook_delta"


class Commands:
    def __init__(self, *, live: bool, use_yes_price: bool, per_command: int | None) -> None:
        self.live = live
        self.use_yes_price = use_yes_price
        self.per_command = per_command
        self._asked: dict[int, tuple[str, wire.CommandParams]] = {}
        self._later: dict[int, list[tuple[str, ...]]] = {}
        self._outbox: list[str] = []
        self._ids = 0

    def reset(self) -> None:
        """A new connection: what the old one asked is void, and nothing of it is still to send."""
        self._asked.clear()
        self._later.clear()
        self._outbox.clear()

    def drain(self) -> list[str]:
        """Command frames to send now (JSON text), in order."""
        out, self._outbox = self._outbox, []
        return out

    def learn(self, frame: wire.Frame) -> None:
        """A command read from a recording (``BadInput`` if its params are malformed)."""
        if frame.id and frame.cmd in ("subscribe", "update_subscription"):
            self._asked[frame.id] = (frame.cmd, wire.decode_params(frame.cmd, frame.params))

    def asked(self, cmd_id: int | None) -> wire.CommandParams | None:
        """The params of the command a reply with ``cmd_id`` answers, when known."""
        found = self._asked.get(cmd_id or 0)
        return None if found is None else found[1]

    def later(self, cmd_id: int | None) -> list[tuple[str, ...]]:
        """The markets a subscribe left for ``add_markets`` after each of its ``subscribed``
        replies (one per channel, all with the command's id)."""
        return self._later.get(cmd_id or 0, [])

    def subscribe(self, channels: list[str], markets: Sequence[str] | None) -> None:
        params: dict[str, object] = {"channels": channels}
        rest: list[tuple[str, ...]] = []
        if markets:
            n = self.per_command or len(markets)
            params["market_tickers"] = list(markets[:n])
            rest = [tuple(markets[i : i + n]) for i in range(n, len(markets), n)]
        if self.use_yes_price and BOOK in channels:
            params["use_yes_price"] = True
        cmd_id = self._send("subscribe", params)
        if rest:
            self._later[cmd_id] = rest

    def add_markets(self, sid: int, markets: Sequence[str]) -> None:
        self._send("update_subscription", {"sid": sid, "market_tickers": list(markets), "action": "add_markets"})

    def get_snapshot(self, sid: int, markets: Sequence[str]) -> None:
        """§3.1 tool (a): snapshots of ``markets`` on ``sid`` without changing the subscription."""
        self._send("update_subscription", {"sids": [sid], "market_tickers": list(markets), "action": "get_snapshot"})

    def _send(self, cmd: str, params: dict[str, object]) -> int:
        if not self.live:
            return 0
        self._ids += 1
        self._asked[self._ids] = (cmd, msgspec.convert(params, wire.CommandParams))
        self._outbox.append(msgspec.json.encode({"id": self._ids, "cmd": cmd, "params": params}).decode())
        return self._ids
