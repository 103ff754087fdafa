"""Importing a .tape file: validate all of it, then append all of it as one new session
(committed in batches, visible only once complete: ``events.store.staging``)."""

from __future__ import annotations

import os
import shlex

from ..errors import BadInput, VerificationError
from ..names import check_session_name
from ..store.protocol import EventStore
from .format import TapeSummary
from .read import iter_tape


async def import_tape(store: EventStore, path: str | os.PathLike[str], *, session: str | None = None) -> TapeSummary:
    """Validate the whole tape, then append it as a NEW session, all of it or nothing.

    The events keep their ids, so the imported session has the tape's chain hashes exactly.
    ``session`` renames it. Nothing is written unless the entire file checks out; an existing
    session of that name, or a name ``events.names`` refuses, is refused (``BadInput``).
    """
    name = os.fspath(path)
    header, batches = iter_tape(name)
    if session is not None:
        target = check_session_name(session, "--session")
    else:
        target = check_session_name(header.session, f"{name}: the tape's header (import it with --session NAME)")
    if await store.exists(target):
        raise BadInput(f"{name}: session {target!r} already exists in {store.url}: give --session NEW_NAME, or "
                       f"remove it first (`tradetape delete {shlex.quote(target)} --yes`)")
    for _ in batches:  # pass 1: the whole file, strictly
        pass
    _, again = iter_tape(name, check_events=False)  # pass 2 re-checks framing and chain
    result = await store.append_new(target, ((p, i) for i, p in again))  # batched, published at the end
    if result.last_seq != header.head_seq or result.head_hash != header.head_hash:
        raise VerificationError(
            f"{name}: imported session {target!r} ends at seq {result.last_seq} with another head than the tape"
        )
    return TapeSummary(
        path=name,
        session=target,
        events=header.events,
        head_seq=result.last_seq,
        head_hash=result.head_hash,
        compressed=header.compressed,
        bytes=os.path.getsize(name),
    )

