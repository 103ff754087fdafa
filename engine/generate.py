"""Writing a synthetic session into the store: streamed, committed in batches and published
once complete (``events.store.staging``), with ids derived from the seed."""

from __future__ import annotations

from collections.abc import Iterator

from events.codec import encode
from events.store import AppendResult, EventStore

from .progress import bar
from .synth import event_ids, generate

BATCH = 4096


async def write_synthetic(
    store: EventStore, session: str, *, seed: int, n_events: int, n_markets: int = 20, progress: bool | None = None
) -> AppendResult:
    def batches() -> Iterator[tuple[list[bytes], list[int]]]:
        buf: list[bytes] = []
        start = 0
        with bar(n_events, f"generate {session}", enabled=progress) as pbar:
            for e in generate(seed, n_events, n_markets, name=session):
                buf.append(encode(e))
                if len(buf) == BATCH:
                    yield buf, event_ids(seed, n_events, start, len(buf), n_markets=n_markets)
                    start += len(buf)
                    pbar.update(len(buf))
                    buf = []
            if buf:
                yield buf, event_ids(seed, n_events, start, len(buf), n_markets=n_markets)
                pbar.update(len(buf))

    return await store.append_new(session, batches())
