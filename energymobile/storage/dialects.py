"""Every difference between the SQL dialects we run on, in one place.

`sql/` is written for MySQL/MariaDB (the company's warehouse). SQLite, the embedded default,
needs only the MySQL table options removed and foreign keys switched on per connection.
"""

from __future__ import annotations

import re

from sqlalchemy import Engine, event

_TABLE_OPTIONS = re.compile(r"\)\s*ENGINE=[^;]*;", re.IGNORECASE)


def adapt_ddl(sql: str, dialect: str) -> str:
    """The DDL of `sql/` as the given SQLAlchemy dialect name needs it."""
    if dialect == "sqlite":
        return _TABLE_OPTIONS.sub(");", sql)
    return sql


def split_statements(sql: str) -> list[str]:
    """Statements of a DDL file: `;` at the end of a line ends one; `--` comments dropped."""
    lines = [ln for ln in sql.splitlines() if not ln.lstrip().startswith("--")]
    statements = re.split(r";\s*$", "\n".join(lines), flags=re.MULTILINE)
    return [s.strip() for s in statements if s.strip()]


def configure_engine(engine: Engine) -> None:
    """Per-connection settings: SQLite enforces foreign keys only when asked."""
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine, "connect")
        def _enable_foreign_keys(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()
