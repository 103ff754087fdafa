"""Seeded, per-connection fault injection for the local feed server (RELIABILITY.md test plan E).

Sans I/O: ``FaultInjector`` decides the fate of each *sequenced* frame of one connection (data
frames: snapshots, deltas, trades, lifecycle; never command replies) and the server carries it
out. Each connection draws from its own ``random.Random`` seeded with the server seed and the
connection number, one draw per sequenced frame, so a run is reproducible.

- ``drop`` (probability): the frame is not sent but its ``seq`` is used: the client sees a gap.
- ``dup``: the frame is sent twice with the same ``seq``.
- ``reorder``: the frame is held back and sent right after the next frame *of the same sid*, so
  the client sees seq n+1 then n. (Swapping with a frame of another sid would be invisible to
  a per-sid sequence check, and the point is to test that check.) The frame that releases a
  held one gets no fault of its own; a held frame that nothing releases is sent in order at
  the end (``release``) and not counted.
- ``disconnect`` = N: after every N-th sequenced frame the TCP connection is closed with no
  WebSocket close frame (the client sees 1006).
- ``silence`` = N: after the N-th frame the connection goes silent: no frames, no pings, no
  pongs (reading stops), until the client gives up.
- ``oversize`` = N / ``malformed`` = N: once, after the N-th frame, one text frame larger than
  1 MiB (valid JSON) / one text frame that is not JSON. Neither carries a seq.
- ``bignum`` = N: once, after the N-th frame, two copies of it that carry numbers no event can
  hold: one with ``seq`` 2**64 - 1, one (same seq: a duplicate) whose ``msg.ts_ms`` is beyond
  the nanosecond range of an event time. Valid JSON, so only a client that bounds its numbers
  sees them as malformed; neither consumes a seq.
- ``error10`` = N / ``error25`` = N: once, after the N-th frame, Kalshi's terminal error 10
  (channel error) / 25 (subscription buffer overflow) on the subscription of that frame, with
  its sid and next seq, and the server drops that subscription (AsyncAPI "Terminal Errors":
  the client must subscribe again).

``injected`` counts what was actually done, per kind, so a test can check injected = detected.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Container

import msgspec

from events.errors import BadInput

OVERSIZE_BYTES = (1 << 20) + 64
OVERSIZE_FRAME = b'{"type":"oversize","msg":{"pad":"' + b"x" * OVERSIZE_BYTES + b'"}}'
MALFORMED_FRAME = b'{"type":"orderbook_delta","sid":1,"seq":'  # cut short: not JSON

DISCONNECT, SILENCE = "disconnect", "silence"
TERMINAL = {"error10": 10, "error25": 25}  # fault name -> Kalshi error code
_FLOATS = ("drop", "dup", "reorder")
_INTS = ("disconnect", "silence", "oversize", "malformed", "bignum", "error10", "error25")
_json = msgspec.json.Decoder(dict[str, object])


class FaultSpec(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Probabilities per sequenced frame (``drop + dup + reorder`` <= 1) and frame counts
    (0 = never) for the faults described in the module docstring."""

    drop: float = 0.0
    dup: float = 0.0
    reorder: float = 0.0
    disconnect: int = 0
    silence: int = 0
    oversize: int = 0
    malformed: int = 0
    bignum: int = 0
    error10: int = 0
    error25: int = 0

    def __post_init__(self) -> None:
        for name in ("drop", "dup", "reorder"):
            p = getattr(self, name)
            if not 0.0 <= p <= 1.0:
                raise BadInput(f"fault {name}={p}: a probability must be between 0 and 1")
        if self.drop + self.dup + self.reorder > 1.0:
            raise BadInput("faults: drop + dup + reorder must not exceed 1")
        for name in _INTS:
            if getattr(self, name) < 0:
                raise BadInput(f"fault {name}={getattr(self, name)}: a frame count must be >= 0")

    @property
    def any(self) -> bool:
        return self != FaultSpec()


def parse_faults(text: str) -> FaultSpec:
    """``"drop=0.01,dup=0.01,reorder=0.01,disconnect=5000"`` → ``FaultSpec``; "" means none.
    A bad item is a one-line ``BadInput`` that names it."""
    return msgspec.convert(parse_settings(text, "faults", _FLOATS, _INTS), FaultSpec)


def parse_settings(text: str, what: str, floats: tuple[str, ...], ints: tuple[str, ...]) -> dict[str, float | int]:
    """``"a=0.1,b=5"`` → ``{"a": 0.1, "b": 5}`` for the names in ``floats`` (probabilities) and
    ``ints`` (whole numbers); "" means none. A bad item (no ``=``, an unknown name, a name given
    twice, not a number) is a one-line ``BadInput`` naming ``what`` and the item. Shared by the
    feed server's faults and the local exchange's venue faults."""
    values: dict[str, float | int] = {}
    for item in (s.strip() for s in text.split(",")):
        if not item:
            continue
        name, eq, value = item.partition("=")
        name = name.strip()
        if not eq:
            raise BadInput(f"{what}: {item!r} is not name=value")
        if name not in floats + ints:
            raise BadInput(f"{what}: unknown fault {name!r} in {item!r} (known: {', '.join(floats + ints)})")
        if name in values:
            raise BadInput(f"{what}: {name!r} given twice")
        try:
            values[name] = float(value) if name in floats else int(value)
        except ValueError:
            kind = "a probability" if name in floats else "a whole number"
            raise BadInput(f"{what}: {item!r}: {value.strip()!r} is not {kind}") from None
    return values


class FaultInjector:
    """The fault decisions of one connection (see the module docstring)."""

    def __init__(self, spec: FaultSpec, seed: int, conn_no: int) -> None:
        self.spec = spec
        self.rng = random.Random(f"tradetape-faults:{seed}:{conn_no}")
        self.frames = 0  # sequenced frames seen on this connection
        self.injected: Counter[str] = Counter()
        self._held: dict[int, bytes] = {}
        self._p_drop = spec.drop
        self._p_dup = spec.drop + spec.dup
        self._p_reorder = spec.drop + spec.dup + spec.reorder

    def on_frame(self, sid: int, data: bytes) -> tuple[list[bytes], str | None]:
        """What to write now for one sequenced frame, in order, and then whether to
        ``DISCONNECT``, go into ``SILENCE`` or end this frame's subscription with a ``TERMINAL``
        error (its name; None: carry on)."""
        self.frames += 1
        r = self.rng.random()
        held = self._held.pop(sid, None)
        out: list[bytes]
        if held is not None:
            out = [data, held]
            self.injected["reorder"] += 1
        elif r < self._p_drop:
            out = []
            self.injected["drop"] += 1
        elif r < self._p_dup:
            out = [data, data]
            self.injected["dup"] += 1
        elif r < self._p_reorder:
            out = []
            self._held[sid] = data
        else:
            out = [data]
        return out, self._after(out, data)

    def _after(self, out: list[bytes], data: bytes) -> str | None:
        n, spec = self.frames, self.spec
        if n == spec.oversize:
            out.append(OVERSIZE_FRAME)
            self.injected["oversize"] += 1
        if n == spec.malformed:
            out.append(MALFORMED_FRAME)
            self.injected["malformed"] += 1
        if n == spec.bignum:
            out += bignums(data)
            self.injected["bignum"] += 1
        for name in TERMINAL:
            if n == getattr(spec, name):
                self.injected[name] += 1
                return name
        if n == spec.silence:
            self.injected[SILENCE] += 1
            return SILENCE
        if spec.disconnect and n % spec.disconnect == 0:
            self.injected[DISCONNECT] += 1
            return DISCONNECT
        return None

    def release(self, sids: Container[int]) -> list[bytes]:
        """Held frames to send now, in order, uncounted (nothing came after them); those of sids
        no longer in ``sids`` (unsubscribed) are discarded."""
        out = [data for sid, data in self._held.items() if sid in sids]
        self._held.clear()
        return out


def bignums(data: bytes) -> list[bytes]:
    """Two copies of the sequenced frame ``data`` with out-of-range numbers (``bignum``)."""
    frame = _json.decode(data)
    msg = frame.get("msg")
    late = dict(msg, ts_ms=2**63 // 1000) if isinstance(msg, dict) else msg
    return [msgspec.json.encode(dict(frame, seq=2**64 - 1)), msgspec.json.encode(dict(frame, msg=late))]
