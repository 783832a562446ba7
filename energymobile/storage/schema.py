"""Apply `sql/NNN_*.sql` once each, in order, and record them in `schema_migrations`.

Applied on first use (never at import). A later change adds a new numbered file (an ALTER or a
data migration), so an existing database moves forward without losing rows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine, text

from energymobile.storage.dialects import adapt_ddl, split_statements

SQL_DIR = Path(__file__).resolve().parents[2] / "sql"
_MIGRATION_NAME = re.compile(r"(\d{3})_[a-z0-9_]+\.sql")

CREATE_MIGRATIONS_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INT          NOT NULL PRIMARY KEY,
    name       VARCHAR(128) NOT NULL,
    applied_at DATETIME     NOT NULL
)
"""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def migrations(sql_dir: Path = SQL_DIR) -> list[Migration]:
    found = []
    for path in sorted(sql_dir.glob("*.sql")):
        match = _MIGRATION_NAME.fullmatch(path.name)
        if match:
            found.append(Migration(int(match.group(1)), path.name, path.read_text("utf-8")))
    return found


def apply_migrations(engine: Engine, sql_dir: Path = SQL_DIR) -> list[str]:
    """Apply the migrations not yet recorded; returns the names applied now."""
    applied_now = []
    with engine.begin() as conn:
        conn.execute(text(CREATE_MIGRATIONS_TABLE))
    for migration in migrations(sql_dir):
        with engine.begin() as conn:
            done = conn.execute(
                text("SELECT 1 FROM schema_migrations WHERE version = :v"),
                {"v": migration.version},
            ).first()
            if done:
                continue
            for statement in split_statements(adapt_ddl(migration.sql, engine.dialect.name)):
                conn.execute(text(statement))
            conn.execute(
                text(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES (:v, :n, :t)"
                ),
                {
                    "v": migration.version,
                    "n": migration.name,
                    "t": datetime.now(UTC).replace(tzinfo=None),
                },
            )
        applied_now.append(migration.name)
    return applied_now
