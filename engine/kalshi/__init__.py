"""The Kalshi edge: wire Structs (``wire``), pure translation to domain events
(``translate``) and per-subscription sequence checking (``sequence``).

Nothing past this package knows what Kalshi's JSON looks like.
"""

from .sequence import SequenceChecker, Verdict
from .translate import Translator, book_delta, book_snapshot, market_lifecycle, public_trade
from .wire import Frame, decode_frame, decode_msg

__all__ = [
    "Frame",
    "SequenceChecker",
    "Translator",
    "Verdict",
    "book_delta",
    "book_snapshot",
    "decode_frame",
    "decode_msg",
    "market_lifecycle",
    "public_trade",
]
