"""Small builders shared by the Kalshi tests: decode a msg body and translate it."""

from __future__ import annotations

import json
from typing import Any

import msgspec

from engine.kalshi import wire
from engine.kalshi.translate import Translator

RECV = 1_700_000_000_123_456_789  # a receive time in ns


def msg(frame_type: str, body: dict[str, Any]) -> wire.Msg:
    return wire.decode_msg(frame_type, msgspec.Raw(json.dumps(body).encode()))


def one(frame_type: str, body: dict[str, Any], *, use_yes_price: bool = False, tr: Translator | None = None) -> Any:
    tr = tr or Translator(use_yes_price=use_yes_price)
    [event] = tr.translate(frame_type, msg(frame_type, body), RECV)
    return event
