"""A watcher: the session's projections rebuilt live from its stream, with checkpoints to resume.

The events are folded with the same ``evolve`` the session itself runs, so at any sequence the
watcher's state, and its digest (``projections.digest``), are the session's. Every ``every``
events (and at the end) the watcher hands a line to ``emit``; with a checkpoint file it also
saves its place there (seq, chain hash, digest and the folded state), written to a temporary
file, synced and renamed over the old one, so a watcher killed at any moment restarts from the
last checkpoint whole. The restart checks the saved state against its saved digest and the
first event after it against the saved chain hash: nothing is lost or folded twice.

The checkpoint holds the state as a pickle: load only checkpoints this watcher wrote.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Callable
from contextlib import aclosing
from pathlib import Path
from typing import Any, NamedTuple

from nats.aio.client import Client as NATS

from events import chain
from events.codec import decode
from events.errors import BadInput
from events.types import EventBase, Fill, SessionEnded, VenueFill
from projections import evolve_many, initial_state
from projections.digest import digest, digest_of, snapshot, venue_view
from projections.state import State

from .follower import Follower
from .names import stream_name
from .nats_conn import FanoutError

CHECKPOINT_VERSION = 2


class Checkpoint(NamedTuple):
    session: str
    seq: int
    hash: bytes
    digest: str
    state: State
    ended: bool = False  # the last event folded was the session's end


def load_checkpoint(path: Path, session: str) -> Checkpoint | None:
    """The checkpoint at ``path`` (None when there is none); ``BadInput`` when it is another
    session's, damaged, or its state does not match its digest."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    try:
        version, fields = pickle.loads(data)
        cp = Checkpoint(*fields) if version == CHECKPOINT_VERSION else None
    except Exception:  # any unpickling failure means the same thing: not a checkpoint of ours
        raise BadInput(f"--checkpoint {path}: not a tradetape watcher checkpoint (damaged?)") from None
    if version != CHECKPOINT_VERSION:
        raise BadInput(f"--checkpoint {path}: written by another version of the watcher ({version}); "
                       "remove it to follow from the start")
    assert cp is not None
    if cp.session != session:
        raise BadInput(f"--checkpoint {path}: holds session {cp.session!r}, not {session!r}")
    if digest(cp.state) != cp.digest:
        raise BadInput(f"--checkpoint {path}: its state does not match its digest (damaged)")
    return cp


def save_checkpoint(path: Path, cp: Checkpoint) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(pickle.dumps((CHECKPOINT_VERSION, tuple(cp)), protocol=pickle.HIGHEST_PROTOCOL))
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def state_line(session: str, seq: int, st: State) -> tuple[dict[str, Any], str]:
    """What a watcher prints at a checkpoint (money in the integer units of ``events.units``),
    and the state's digest: one snapshot serves both."""
    snap = snapshot(st)
    d = digest_of(snap, venue_view(st))
    return {"session": session, "seq": seq, "ts": snap.ts, "digest": d, "cash": snap.cash,
            "portfolio_value": snap.portfolio_value, "realized": snap.realized, "fees": snap.fees,
            "positions": len(snap.positions), "open_orders": len(snap.open_orders)}, d


class Watch(NamedTuple):
    seq: int
    digest: str
    ended: bool
    resumed_from: int


async def watch(nc: NATS, session: str, *, every: int, emit: Callable[[dict[str, Any]], None],
                checkpoint: Path | None = None, start: int = 1, forever: bool = False,
                idle_exit_s: float | None = None,
                on_batch: Callable[[State, list[EventBase]], None] | None = None) -> Watch:
    """Fold the session's stream; ``emit`` a state line at every multiple of ``every`` from
    ``start`` on and at the end. Stops after the session's ``SessionEnded`` (unless ``forever``)
    or after ``idle_exit_s`` with nothing new. ``on_batch(state, fills)``: after each batch
    folded, with the fills in it (the ``--broadcast`` endpoint)."""
    if every < 1:
        raise BadInput("--every must be at least 1")
    cp = load_checkpoint(checkpoint, session) if checkpoint is not None else None
    st, after, after_hash = (cp.state, cp.seq, cp.hash) if cp is not None else (initial_state(), 0, chain.GENESIS)
    follower = Follower(nc, session, after=after, after_hash=after_hash, idle_exit_s=idle_exit_s)
    seq, last_hash, ended = after, after_hash, cp is not None and cp.ended
    end_seq = after if ended else -1  # the seq of the session's end, once folded

    def mark(at: int, at_hash: bytes) -> None:
        line, d = state_line(session, at, st)
        if at >= start:
            emit(line)
        if checkpoint is not None:
            save_checkpoint(checkpoint, Checkpoint(session, at, at_hash, d, st, at == end_seq))

    if after:
        last = await follower.wait_for_stream()
        if last < after:
            raise FanoutError(f"stream {stream_name(session)} holds {last} events, the checkpoint {checkpoint} is at "
                              f"{after}: the stream is not the one the checkpoint followed")
        if ended and not forever and last == after:
            mark(after, after_hash)  # resumed after the session's end, and nothing came since: done
            return Watch(seq=after, digest=digest(st), ended=True, resumed_from=after)
    ended = False
    async with aclosing(follower.batches()) as batches:
        async for got in batches:
            events = [decode(it.payload, f"stream event {it.seq}") for it in got]
            batch = got
            ends = [it.seq for it, e in zip(got, events, strict=True) if type(e) is SessionEnded]
            if ends and not forever:  # stop exactly at the session's end, however the stream was batched
                batch, events = got[:ends[0] - got[0].seq + 1], events[:ends[0] - got[0].seq + 1]
                ends = ends[:1]
            if ends:
                end_seq = ends[-1]  # known before the fold: a checkpoint at the end says so
            i = 0
            while i < len(batch):
                # fold up to the next checkpoint boundary, so a line is printed at exactly k*every
                stop_at = min(len(batch), i + (every - (batch[i].seq - 1) % every))
                evolve_many(st, events[i:stop_at])
                seq, last_hash = batch[stop_at - 1].seq, batch[stop_at - 1].hash
                if seq % every == 0:
                    mark(seq, last_hash)
                i = stop_at
            ended = end_seq == seq  # the last event folded is the session's end
            if on_batch is not None:
                on_batch(st, [e for e in events if type(e) is Fill or type(e) is VenueFill])
            if ended and not forever:
                break
    if seq % every != 0 or seq == after:
        mark(seq, last_hash)  # the end (or nothing new): a line for where the watcher stopped
    return Watch(seq=seq, digest=digest(st), ended=ended, resumed_from=after)
