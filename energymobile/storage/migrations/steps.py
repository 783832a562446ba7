"""What a revision asks the database before a step, so that MySQL can finish it when run again.

MySQL commits every DDL statement on its own: a revision stopped half-way (a killed process, a
lost connection) leaves some of its steps done, and Alembic still records the revision before
it. Run again, the revision must skip what is done and do the rest. So each step that changes
a table runs only while still needed:

    if missing("column", "sensor_hourly", "profile_id"):
        batch.add_column(...)
    if present("foreign_key", "sensor_hourly", "fk_sensor_hourly_cooler"):
        batch.drop_constraint(...)

SQLite and PostgreSQL apply a revision in one transaction, where every step is still needed;
the questions cost one catalog query each. Offline (`--sql`, the DBA's sql/ files) nothing can
be asked: every step is written out, for a database at the previous revision.
"""

from __future__ import annotations

from typing import Literal

import sqlalchemy as sa
from alembic import context, op

Kind = Literal["table", "view", "column", "index", "foreign_key", "rows"]


def present(kind: Kind, table: str, name: str | None = None) -> bool:
    """True when the object exists now (offline: assumed to, so the step is written)."""
    if context.is_offline_mode():
        return True
    return _exists(kind, table, name)


def missing(kind: Kind, table: str, name: str | None = None) -> bool:
    """True when the object does not exist yet (offline: assumed not, so the step is written)."""
    if context.is_offline_mode():
        return True
    return not _exists(kind, table, name)


def _exists(kind: Kind, table: str, name: str | None) -> bool:
    bind = op.get_bind()
    schema = sa.inspect(bind)
    if kind == "table":
        return schema.has_table(table)
    if kind == "view":
        return table in schema.get_view_names()
    if kind == "rows":
        return (
            bind.execute(sa.select(sa.literal(1)).select_from(sa.table(table)).limit(1)).first()
            is not None
        )
    if kind == "column":
        return name in {c["name"] for c in schema.get_columns(table)}
    if kind == "index":
        return name in {i["name"] for i in schema.get_indexes(table)}
    if kind == "foreign_key":
        return name in {k["name"] for k in schema.get_foreign_keys(table)}
    raise ValueError(f"unknown kind {kind!r}")


def primary_key(table: str) -> list[str]:
    """The columns of the table's primary key now, in order (offline: none, so a step that
    changes it is written)."""
    if context.is_offline_mode():
        return []
    return list(sa.inspect(op.get_bind()).get_pk_constraint(table)["constrained_columns"])
