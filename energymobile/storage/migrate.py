"""Bring a warehouse database to the newest schema with Alembic, on first use; write the DDL a
DBA applies by hand.

`upgrade(url)` is what `Warehouse.ensure_schema` runs: under the dialect's schema lock (two
processes starting at once upgrade once), it recognises a database made before Alembic, stamps
it with the revision it is at, and applies the revisions it lacks. The revisions ship inside
the package (`storage/migrations/`), found with importlib.resources; finding none is an error,
never a silent no-op.

Databases made before Alembic are recognised two ways, and keep every row:
- energymobile recorded the sql/ files it applied in `schema_migrations`: version N is
  revision 00N.
- A DBA applied sql/ by hand (no record): the revision is read from the tables. condition_
  profiles with the codes gone from sensor_hourly is 004; the view is 003; anything less is
  left to the revisions themselves, which finish a half-made database (migrations/steps.py).

`offline_sql(dialect, revision)` is `alembic upgrade <previous>:<revision> --sql`: the file of
sql/<dialect>/ for that revision (`write_sql_files`, `make sql`).
"""

from __future__ import annotations

import argparse
import functools
import io
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext, MigrationInfo
from alembic.script import Script, ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import URL, Connection, inspect, text

from energymobile.storage.dialects import migration_engine, schema_lock
from energymobile.storage.schema import VIEWS, metadata

MIGRATIONS_PACKAGE = "energymobile.storage.migrations"
LEGACY_VERSION_TABLE = "schema_migrations"
DIALECTS = ("mysql", "postgresql")
"""The dialects sql/ holds a DBA's files for (SQLAlchemy's names). Not SQLite: it is embedded,
with no DBA, and its batch migrations need the live table to rebuild it."""
SQL_HEADER = """\
-- energymobile warehouse schema, revision {revision} for {dialect}:
{title}
-- Generated from energymobile/storage/migrations/versions/{file} by `make sql`
-- (alembic upgrade {range} --sql); do not edit. How to apply it: docs/{doc}.

"""


class MigrationsNotFound(RuntimeError):
    """The package holds no Alembic revisions: an installation that lost its migrations, which
    must never pass for a database with nothing to do."""


class UnknownSchemaVersion(RuntimeError):
    """The database records a schema version this energymobile does not know (a newer one)."""


@dataclass(frozen=True)
class Revision:
    id: str
    previous: str | None
    file: str
    title: str

    @property
    def sql_file(self) -> str:
        """Its file in sql/<dialect>/: the revision file's name, .sql for .py."""
        return Path(self.file).with_suffix(".sql").name


def migrations_folder() -> Path:
    """`storage/migrations` of the installed package (importlib.resources, so a wheel finds its
    own copy wherever it is installed)."""
    return Path(str(files(MIGRATIONS_PACKAGE)))


def alembic_config(script_location: Path | None = None, **attributes: object) -> Config:
    """Alembic's configuration, built in code: no alembic.ini is needed at run time."""
    config = Config(output_buffer=attributes.pop("output_buffer", None))  # type: ignore[arg-type]
    config.set_main_option("script_location", str(script_location or migrations_folder()))
    config.attributes.update(attributes)
    return config


def revisions(script_location: Path | None = None) -> list[Revision]:
    """The revisions, oldest first; raises MigrationsNotFound if there are none."""
    if script_location is None:
        return list(_package_revisions())
    return _read_revisions(script_location)


@functools.cache
def _package_revisions() -> tuple[Revision, ...]:
    """The package's own revisions, read once per process: reading them imports every revision
    file, which each run's first use of the warehouse did again (issue 16)."""
    return tuple(_read_revisions(migrations_folder()))


def _read_revisions(folder: Path) -> list[Revision]:
    try:
        scripts = ScriptDirectory.from_config(alembic_config(folder))
        found: list[Script] = list(scripts.walk_revisions())
    except CommandError as exc:
        raise MigrationsNotFound(f"no warehouse migrations in {folder}: {exc}") from exc
    if not found:
        raise MigrationsNotFound(
            f"no warehouse migrations in {folder / 'versions'}: the installation is incomplete "
            "(the package must ship energymobile/storage/migrations/versions/*.py)"
        )
    return [
        Revision(
            id=script.revision,
            previous=script.down_revision,  # type: ignore[arg-type]  # one line of history
            file=Path(script.path).name,
            title=" ".join((script.doc or "").split()),
        )
        for script in reversed(found)
    ]


def upgrade(url: str | URL, script_location: Path | None = None) -> list[str]:
    """Apply the revisions the database lacks; returns their ids, oldest first ([] when it was
    up to date). A database made before Alembic is stamped with its revision first."""
    known = revisions(script_location)
    engine = migration_engine(url)
    try:
        with engine.connect() as conn, schema_lock(conn):
            legacy = None
            if not _has_alembic_version(conn):
                legacy = legacy_revision(conn, [r.id for r in known])
            elif current_revision(conn) == known[-1].id:
                return []  # at head, as on every run but the first: Alembic is not needed
            # The lock belongs to the session, not to a transaction; and Alembic must find no
            # transaction open, or it would leave committing to us.
            conn.commit()
            if legacy:
                command.stamp(alembic_config(script_location, connection=conn), legacy)
            applied: list[str] = []

            def _record(*, step: MigrationInfo, **_: object) -> None:
                if step.is_upgrade and not step.is_stamp and step.up_revision_id:
                    applied.append(step.up_revision_id)

            config = alembic_config(script_location, connection=conn, on_version_apply=[_record])
            command.upgrade(config, "head")
            return applied
    finally:
        engine.dispose()


def current_revision(conn: Connection) -> str | None:
    """The revision Alembic has recorded in this database (None: none yet)."""
    return MigrationContext.configure(conn).get_current_revision()


def _has_alembic_version(conn: Connection) -> bool:
    return inspect(conn).has_table("alembic_version")


def legacy_revision(conn: Connection, known: list[str]) -> str | None:
    """The revision a database made before Alembic is at; None for an empty database (or one
    whose first revision is still half-made, which 001 finishes)."""
    schema = inspect(conn)
    tables = set(schema.get_table_names())
    if LEGACY_VERSION_TABLE in tables:
        versions = conn.execute(text(f"SELECT version FROM {LEGACY_VERSION_TABLE}")).scalars()
        newest = max((int(v) for v in versions), default=0)
        if newest:
            revision = f"{newest:03d}"
            if revision not in known:
                raise UnknownSchemaVersion(
                    f"{LEGACY_VERSION_TABLE} records schema version {newest}, which this "
                    f"energymobile does not know (it knows {', '.join(known)}): a newer release "
                    "prepared this database"
                )
            return revision
    if "sensor_hourly" not in tables:
        return None
    fact_columns = {c["name"] for c in schema.get_columns("sensor_hourly")}
    if "condition_profiles" in tables and "cooler_condition" not in fact_columns:
        return "004"
    if "oil_well_hourly" in schema.get_view_names():
        return "003"
    return None


def include_object(
    obj: object, name: str | None, type_: str, reflected: bool, compare_to: object
) -> bool:
    """What Alembic compares (autogenerate, `schema_differences`): the tables, not the views of
    `schema.metadata` (the tests compare a view by its rows) nor the old version table."""
    return not (type_ == "table" and (name in VIEWS or name == LEGACY_VERSION_TABLE))


def schema_differences(conn: Connection) -> list[object]:
    """How this database differs from `schema.py` (Alembic's autogenerate comparison: tables,
    columns, types, nullability, keys, indexes); [] when it matches."""
    context = MigrationContext.configure(
        conn, opts={"include_object": include_object, "compare_type": True}
    )
    return list(compare_metadata(context, metadata))


def offline_sql(dialect: str, revision: Revision) -> str:
    """What `alembic upgrade <previous>:<revision> --sql` writes for this dialect (from an empty
    database for the first revision, which creates alembic_version too), with a header."""
    buffer = io.StringIO()
    config = alembic_config(output_buffer=buffer, dialect=dialect)
    span = f"{revision.previous}:{revision.id}" if revision.previous else revision.id
    command.upgrade(config, span, sql=True)
    doc = "mysql.md" if dialect == "mysql" else "postgres.md"
    header = SQL_HEADER.format(
        revision=revision.id,
        dialect=dialect,
        title="\n".join(
            textwrap.wrap(revision.title, 96, initial_indent="-- ", subsequent_indent="-- ")
        ),
        file=revision.file,
        range=span,
        doc=doc,
    )
    return header + buffer.getvalue()


def sql_files() -> Iterator[tuple[Path, str]]:
    """Every file of sql/ (relative path, text): one per dialect and revision."""
    for dialect in DIALECTS:
        for revision in revisions():
            yield Path(dialect) / revision.sql_file, offline_sql(dialect, revision)


def write_sql_files(folder: Path) -> list[Path]:
    """Regenerate sql/ under `folder` (removing files of revisions that no longer exist)."""
    written = []
    for dialect in DIALECTS:
        for stale in (folder / dialect).glob("*.sql"):
            stale.unlink()
    for relative, sql in sql_files():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(sql, encoding="utf-8")
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> None:
    """`python -m energymobile.storage.migrate sql FOLDER`: write the DBA's DDL files."""
    parser = argparse.ArgumentParser(prog="python -m energymobile.storage.migrate")
    commands = parser.add_subparsers(dest="command", required=True)
    sql = commands.add_parser("sql", help="write <folder>/<dialect>/<revision>.sql")
    sql.add_argument("folder", type=Path)
    args = parser.parse_args(argv)
    for path in write_sql_files(args.folder):
        print(path)


if __name__ == "__main__":
    main()
