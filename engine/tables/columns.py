"""Building an Arrow table from exact integer columns, with the human columns beside them.

Every table keeps the stored integers exactly, as ``int64`` (``events.units``): ``price`` in
$0.0001, ``count`` in 0.01 contract, money in $0.000001, ``ts`` in ns since the epoch. Next to
each of them a human column is derived here and nowhere else:

- ``time``: ``ts`` as ``timestamp[ns, tz=UTC]`` (the same integer, read as a UTC instant);
- ``*_usd`` and ``*contracts``: ``float64``, the integer divided by its unit (10 000 for a price,
  1 000 000 for money, 100 for a count). One IEEE division of an exactly represented integer
  is correctly rounded, so each is the double nearest the exact decimal, and
  ``round(x * unit) == the integer`` for every value below 2**53 units. They are for reading
  and plotting; a sum that must reconcile to the cent uses the integer column.

A column that can be absent in a row is declared nullable (``Field.nullable``); its integers
stay ``int64`` with nulls (``to_pandas`` gives pandas' nullable ``Int64`` there), never floats.
The schema's metadata names the table, the session and the units.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

import pyarrow as pa
import pyarrow.compute as pc

from events.units import MONEY_PER_DOLLAR, ONE_CONTRACT, ONE_DOLLAR, UNITS

if TYPE_CHECKING:
    import pandas as pd

INT = pa.int64()
STR = pa.string()
BOOL = pa.bool_()
FLOAT = pa.float64()
TIME = pa.timestamp("ns", tz="UTC")

PRICE = ONE_DOLLAR
MONEY = MONEY_PER_DOLLAR
COUNT = ONE_CONTRACT
NS = 0  # ``human`` marker: a time, not a scale


class Field(NamedTuple):
    """One exact column; ``human`` lists the columns derived from it: (name, unit divisor or
    ``NS`` for a UTC timestamp), placed right after it."""

    name: str
    type: pa.DataType
    nullable: bool = False
    human: tuple[tuple[str, int], ...] = ()


def ts_field(name: str = "ts", time: str = "time", nullable: bool = False) -> Field:
    return Field(name, INT, nullable, ((time, NS),))


def scaled(name: str, unit: int, human: str, nullable: bool = False) -> Field:
    return Field(name, INT, nullable, ((human, unit),))


def schema(table: str, fields: Sequence[Field], session: str) -> pa.Schema:
    """The Arrow schema of a table: the exact columns in order, each followed by its human ones."""
    out = []
    for f in fields:
        out.append(pa.field(f.name, f.type, nullable=f.nullable))
        for name, unit in f.human:
            out.append(pa.field(name, TIME if unit == NS else FLOAT, nullable=f.nullable))
    meta = {
        "tradetape.table": table,
        "tradetape.session": session,
        "tradetape.units": json.dumps(UNITS, sort_keys=True),
        "tradetape.human": "time: ts as a UTC timestamp; *_usd and *contracts: float64, the integer over its unit",
    }
    return pa.schema(out, metadata=meta)


def build(table: str, fields: Sequence[Field], data: Mapping[str, Sequence[Any]], session: str) -> pa.Table:
    """The table from one Python list per exact column (all the same length)."""
    arrays: list[pa.Array] = []
    for f in fields:
        exact = pa.array(data[f.name], type=f.type)
        if not f.nullable and exact.null_count:
            raise ValueError(f"{table}.{f.name}: a null in a column declared non-null")
        arrays.append(exact)
        for _name, unit in f.human:
            arrays.append(exact.cast(TIME) if unit == NS else pc.divide(exact.cast(FLOAT), float(unit)))
    return pa.Table.from_arrays(arrays, schema=schema(table, fields, session))


def to_pandas(t: pa.Table) -> pd.DataFrame:
    """A DataFrame with every integer exact: ``int64`` columns stay ``int64``, and nullable ones
    become pandas' ``Int64`` (nulls as ``pd.NA``) rather than ``float64``; a nullable flag is
    pandas' ``boolean``, not ``object``."""
    import pandas as pd

    cols: dict[str, Any] = {}
    for field, col in zip(t.schema, t.columns, strict=True):
        if field.nullable and field.type in (INT, BOOL):
            cols[field.name] = col.to_pandas(types_mapper={INT: pd.Int64Dtype(), BOOL: pd.BooleanDtype()}.get)
        else:
            cols[field.name] = col.to_pandas()
    return pd.DataFrame(cols, columns=t.column_names)
