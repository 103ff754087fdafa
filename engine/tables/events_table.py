"""The ``events`` table: one row per event of the session, in seq order.

Columns: ``seq`` (1..head, no gaps), ``type`` (the tag without its version: ``book_delta``),
``ts``/``time``, and, where the event has a field of that name, ``market``, ``side``,
``price`` (the field as stored: a ``book_delta``'s level, an order's own-leg price; a public
trade's ``yes_price`` is not copied here), ``count`` and ``order_id`` (null where it has none).
``json`` is the event's canonical JSON (``events.codec.to_json``: sorted keys, its ``type`` tag
with the version, integers exact), the current version of the event as every reader gets it
(legacy events upcast): ``events.codec.from_json(json)`` gives the stored event back, equal.
A derived session's market events are in place, as ``replay`` and ``audit show`` see them.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from events.codec import to_json
from events.types import Event, tag_of, type_name
from projections import State

from .columns import COUNT, INT, PRICE, STR, Field, build, scaled, ts_field

FIELDS = (
    Field("seq", INT),
    Field("type", STR),
    ts_field(),
    Field("market", STR, nullable=True),
    Field("side", STR, nullable=True),
    scaled("price", PRICE, "price_usd", nullable=True),
    scaled("count", COUNT, "contracts", nullable=True),
    Field("order_id", STR, nullable=True),
    Field("json", STR),
)
_OPTIONAL = ("market", "side", "price", "count", "order_id")


class Events:
    def __init__(self) -> None:
        self.cols: dict[str, list[Any]] = {f.name: [] for f in FIELDS}
        self._types: dict[type[Event], str] = {}

    def after(self, seq: int, e: Event, st: State) -> None:
        c = self.cols
        cls = type(e)
        name = self._types.get(cls)
        if name is None:
            name = self._types[cls] = type_name(tag_of(cls))
        c["seq"].append(seq)
        c["type"].append(name)
        c["ts"].append(e.ts)
        for key in _OPTIONAL:
            c[key].append(getattr(e, key, None))
        c["json"].append(to_json(e).decode())

    def table(self, st: State, session: str) -> pa.Table:
        return build("events", FIELDS, self.cols, session)
