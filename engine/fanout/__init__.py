"""Beyond one machine: live sessions fanned out through NATS JetStream (``publisher``,
``follower``, ``mirror``) and sweeps run by workers anywhere (``engine.sweep``).

The store stays the source of truth. JetStream is the distributed log watchers read, so a slow
watcher never touches the trading process: a session's events are published only after their
durable commit, one JetStream stream per session whose stream sequence IS the session's
sequence (``names``), each message carrying the event's bytes, its id and its chain hash."""
