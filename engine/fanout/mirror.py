"""A verified replica of a session, written from its stream into another store.

The mirror appends each batch of the stream's events with their own ids and bytes, so the
replica's chain is the source's link for link (the chain covers the bytes: ``events.chain``);
after every append the replica's head hash must equal the stream's ``Tt-Hash`` there, and at the
end the replica is walked by ``verify_session``. A mirror stopped at any point resumes from the
replica's head: the follower starts after it, and the first event is checked against the
replica's head hash, so a replica that is not a prefix of the source is refused, never extended.
"""

from __future__ import annotations

from contextlib import aclosing
from typing import NamedTuple

from nats.aio.client import Client as NATS

from events import chain
from events.codec import decode
from events.errors import UnknownSession
from events.store import EventStore, read_one
from events.store.verify import verify_session
from events.types import SessionEnded

from .follower import Follower
from .names import stream_name
from .nats_conn import FanoutError


class Mirrored(NamedTuple):
    name: str
    head_seq: int
    head_hash: bytes
    appended: int
    ended: bool


async def mirror(nc: NATS, session: str, into: EventStore, *, name: str | None = None, forever: bool = False,
                 idle_exit_s: float | None = None) -> Mirrored:
    target = name or session
    try:
        info = await into.session(target)
        head, head_hash = info.head_seq, info.head_hash
    except UnknownSession:
        head, head_hash = 0, chain.GENESIS
    follower = Follower(nc, session, after=head, after_hash=head_hash, idle_exit_s=idle_exit_s)
    appended, ended = 0, False
    if head:
        last = await follower.wait_for_stream()
        if last < head:
            raise FanoutError(f"stream {stream_name(session)} holds {last} events, the replica {target!r} in "
                              f"{into.url} {head}: the replica is not of this stream")
        if not forever and last == head and await _ends(into, target, head):
            return Mirrored(target, head, head_hash, 0, True)  # mirrored to the session's end already
    async with aclosing(follower.batches()) as batches:
        async for got in batches:
            batch = got
            if not forever:  # stop exactly at the session's end, however the stream was batched
                kinds = [type(decode(it.payload, f"stream event {it.seq}")) for it in got]
                if SessionEnded in kinds:
                    batch, ended = got[:kinds.index(SessionEnded) + 1], True
            r = await into.append_encoded(target, [it.payload for it in batch], expected_version=head,
                                          ids=[it.id for it in batch])
            if r.last_seq != batch[-1].seq or r.head_hash != batch[-1].hash:
                raise FanoutError(f"mirror of {session!r} into {into.url}: the replica's head ({r.last_seq}) is not the "
                                  f"stream's ({batch[-1].seq})")
            head, head_hash, appended = r.last_seq, r.head_hash, appended + len(batch)
            if ended:
                break
    if head:
        report = await verify_session(into, target)
        if not report.ok:
            raise FanoutError(f"mirror {target!r} in {into.url} does not verify: {report}")
    return Mirrored(target, head, head_hash, appended, ended)


async def _ends(store: EventStore, name: str, head: int) -> bool:
    """The replica's last event is the session's end."""
    return type(await read_one(store, name, head)) is SessionEnded
