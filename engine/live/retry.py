"""How long a live session waits for its feed (``engine.live.client``; docs/live.md).

* ``CONNECT_FOR``: a feed that never answered (wrong URL, host down, nothing listening) is
  tried for this many seconds, a few attempts with backoff, then the command fails with exit 2
  and leaves no session. Retrying longer would not mend a wrong URL, and a user who typed one
  should hear so at once.
* ``RECONNECT_FOR``: a feed lost mid-session is retried with capped, jittered exponential
  backoff for this many seconds from the loss (5 minutes: a feed restart or a network blip
  outlasts it rarely, and a session left waiting longer records nothing), then the session is
  ended ``failed: ...`` and the command exits 3. A link that carries data again restarts it.

Both are CLI options (``--connect-for``, ``--reconnect-for``); ``--max-reconnects`` may bound
the attempts in a row as well. Kept apart from the client so that the CLI reads them without
importing websockets.
"""

CONNECT_FOR = 3.0
RECONNECT_FOR = 300.0
