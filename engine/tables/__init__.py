"""A session as tables: ``events``, ``fills``, ``orders``, ``equity``, ``book-top``.

Each table keeps the stored integers exactly (``int64``: prices in $0.0001, counts in 0.01
contract, money in $0.000001, ``ts`` in ns) and puts human columns beside them (``time`` as a
UTC timestamp, ``*_usd``/``*contracts`` as floats; ``engine.tables.columns``). One module per
table says what a row is. ``fold.build_tables`` builds them in one pass through ``evolve``;
``tradetape export --table`` writes them (``write``) and ``open_db`` (``api``) returns them as
Arrow tables or pandas DataFrames, through that same function.
"""

from .api import Database, Session, open_db, run_sync
from .fold import TABLES, build_tables, table_name

__all__ = ["TABLES", "Database", "Session", "build_tables", "open_db", "run_sync", "table_name"]
