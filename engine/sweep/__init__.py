"""``tradetape sweep``: a grid of re-simulations (sessions × policies × seeds × settings), each
cell one ``simulate`` into a session with a fixed name and one results row read back from it;
run in a local process pool or by ``tradetape worker`` processes over NATS JetStream into a
shared PostgreSQL store, with each cell's result written exactly once (docs/sweep.md).

From Python: ``sweep_table(url, name)`` (a pyarrow Table) and ``sweep_frame(url, name)``
(pandas) build the results table from the stored sessions of a sweep's cells.
"""

from .results import sweep_frame, sweep_table

__all__ = ["sweep_frame", "sweep_table"]
