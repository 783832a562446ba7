"""Apply `sql/NNN_*.sql` once each, in order, and record them in `schema_migrations`.

Applied on first use (never at import), under the dialect's schema lock, so two processes
starting at once apply each file once. The files are idempotent (IF NOT EXISTS, INSERT IGNORE,
CREATE OR REPLACE VIEW, steps that run only while still needed): a database prepared by hand
with `mysql energymobile < sql/…` is recognised and recorded, and a migration interrupted
half-way (MySQL DDL commits statement by statement) is simply run again. A later change adds
a new numbered file (an ALTER or a data migration), so an existing database moves forward
without losing rows. Where SQLite or PostgreSQL needs its own version of a file
(`sql/sqlite/<same name>`, `sql/postgres/<same name>`, see `dialects.migration_path`), it gets
it, under the same version number; on both every file runs in one transaction (their DDL is
transactional), so a file is applied completely or not at all.

A view is derived, not data: when several pending files define the same view, only the last
definition is applied. So re-applying the files to a database prepared by hand at a later
version (003's view names columns that 004 dropped) recognises it instead of failing.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Connection, Engine, text

from energymobile.storage.dialects import (
    begin_migration,
    ddl_statements,
    literal_sql,
    migration_path,
    schema_lock,
    split_statements,
)

SQL_DIR = Path(__file__).resolve().parents[2] / "sql"
MIGRATIONS_TABLE = "schema_migrations"
_MIGRATION_NAME = re.compile(r"(\d{3})_[a-z0-9_]+\.sql")
_VIEW_DEFINITION = re.compile(r"CREATE\s+(?:OR\s+REPLACE\s+)?VIEW\s+(\w+)", re.IGNORECASE)

CREATE_MIGRATIONS_TABLE = f"""
CREATE TABLE IF NOT EXISTS {MIGRATIONS_TABLE} (
    version    INT          NOT NULL,
    name       VARCHAR(128) NOT NULL,
    applied_at DATETIME     NOT NULL,
    PRIMARY KEY (version)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
"""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def migrations(sql_dir: Path = SQL_DIR, dialect: str | None = None) -> list[Migration]:
    """The numbered files of `sql_dir`, in version order; given a dialect, with its own
    version of a file where `sql_dir` has one."""
    found = []
    for path in sorted(sql_dir.glob("*.sql")):
        match = _MIGRATION_NAME.fullmatch(path.name)
        if match:
            source = migration_path(sql_dir, path.name, dialect) if dialect else path
            found.append(Migration(int(match.group(1)), path.name, source.read_text("utf-8")))
    return found


def defined_view(statement: str) -> str | None:
    """The view a statement (re)defines, if it is a CREATE [OR REPLACE] VIEW."""
    match = _VIEW_DEFINITION.match(statement)
    return match.group(1).lower() if match else None


def views_defined(pending: Sequence[Migration]) -> set[str]:
    """The views these migrations (re)define."""
    return {
        view
        for migration in pending
        for statement in split_statements(migration.sql)
        if (view := defined_view(statement))
    }


def applied_versions(conn: Connection) -> set[int]:
    return {int(v) for v in conn.execute(text(f"SELECT version FROM {MIGRATIONS_TABLE}")).scalars()}


def apply_migrations(engine: Engine, sql_dir: Path = SQL_DIR) -> list[str]:
    """Apply the migrations not yet recorded; returns the names applied now."""
    dialect = engine.dialect.name
    applied_now = []
    with engine.connect() as conn, schema_lock(conn):
        for statement in ddl_statements(CREATE_MIGRATIONS_TABLE, dialect):
            conn.execute(text(literal_sql(statement)))
        conn.commit()
        done = applied_versions(conn)
        pending = [m for m in migrations(sql_dir, dialect) if m.version not in done]
        for index, migration in enumerate(pending):
            redefined_later = views_defined(pending[index + 1 :])
            begin_migration(conn)
            for written in split_statements(migration.sql):
                if defined_view(written) in redefined_later:
                    continue
                for statement in ddl_statements(written, dialect):
                    conn.execute(text(literal_sql(statement)))
            conn.execute(
                text(
                    f"INSERT INTO {MIGRATIONS_TABLE} (version, name, applied_at) "
                    "VALUES (:v, :n, :t)"
                ),
                {
                    "v": migration.version,
                    "n": migration.name,
                    "t": datetime.now(UTC).replace(tzinfo=None),
                },
            )
            conn.commit()
            applied_now.append(migration.name)
    return applied_now
