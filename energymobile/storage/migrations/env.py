"""Alembic's environment for the warehouse: how a revision reaches a database.

Online, energymobile passes the connection (`storage/migrate.py`: under the schema lock,
after recognising a database made before Alembic); the `alembic` command line connects to
ENERGYMOBILE_DATABASE_URL itself. Offline (`--sql`), the dialect comes from `-x dialect=...`
or from migrate.py, and the SQL is written out for a DBA (`make sql` writes sql/).

SQLite and PostgreSQL run a whole upgrade in one transaction (their DDL is transactional):
applied completely or not at all. MySQL commits each DDL statement; there each revision is
written so that it finishes when run again after an interruption (`migrations/steps.py`).
"""

from __future__ import annotations

from typing import Any

from alembic import context
from sqlalchemy import Connection

from energymobile.settings import Settings
from energymobile.storage.dialects import (
    SQLITE,
    check_foreign_keys,
    migration_engine,
    schema_lock,
)
from energymobile.storage.migrate import include_object
from energymobile.storage.schema import metadata

config = context.config


def _options(dialect_name: str) -> dict[str, Any]:
    return {
        "target_metadata": metadata,
        "render_as_batch": True,  # autogenerate writes SQLite-proof batch operations
        "include_object": include_object,
        "transactional_ddl": dialect_name != "mysql",  # SQLite too: see migration_engine
        "on_version_apply": config.attributes.get("on_version_apply", ()),
    }


def run_migrations_offline() -> None:
    dialect_name = config.attributes.get("dialect") or context.get_x_argument(
        as_dictionary=True
    ).get("dialect")
    if not dialect_name:
        raise SystemExit("offline SQL needs a dialect: -x dialect=mysql|postgresql|sqlite")
    context.configure(dialect_name=dialect_name, literal_binds=True, **_options(dialect_name))
    with context.begin_transaction():
        context.run_migrations()


def run_migrations(connection: Connection) -> None:
    context.configure(connection=connection, **_options(connection.dialect.name))
    with context.begin_transaction():
        context.run_migrations()
        if connection.dialect.name == SQLITE:
            check_foreign_keys(connection)


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        run_migrations(connection)
        return
    engine = migration_engine(Settings.from_env().database_url)
    try:
        with engine.connect() as connection, schema_lock(connection):
            connection.commit()  # the lock is the session's; Alembic begins its own
            run_migrations(connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
