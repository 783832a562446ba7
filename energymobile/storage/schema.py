"""Apply `sql/NNN_*.sql` once each, in order, and record them in `schema_migrations`.

Applied on first use (never at import), under the dialect's schema lock, so two processes
starting at once apply each file once. The files are idempotent (IF NOT EXISTS, INSERT IGNORE,
CREATE OR REPLACE VIEW): a database prepared by hand with `mysql energymobile < sql/…` is
recognised and recorded, and a migration interrupted half-way (MySQL DDL commits statement by
statement) is simply run again. A later change adds a new numbered file (an ALTER or a data
migration), so an existing database moves forward without losing rows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Connection, Engine, text

from energymobile.storage.dialects import ddl_statements, literal_sql, schema_lock

SQL_DIR = Path(__file__).resolve().parents[2] / "sql"
MIGRATIONS_TABLE = "schema_migrations"
_MIGRATION_NAME = re.compile(r"(\d{3})_[a-z0-9_]+\.sql")

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


def migrations(sql_dir: Path = SQL_DIR) -> list[Migration]:
    """The numbered files of `sql_dir`, in version order."""
    found = []
    for path in sorted(sql_dir.glob("*.sql")):
        match = _MIGRATION_NAME.fullmatch(path.name)
        if match:
            found.append(Migration(int(match.group(1)), path.name, path.read_text("utf-8")))
    return found


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
        for migration in migrations(sql_dir):
            if migration.version in done:
                continue
            for statement in ddl_statements(migration.sql, dialect):
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
