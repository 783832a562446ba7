"""What the command line says when something fails: one line per failure naming what failed,
where, and what to do; never a traceback (`--debug` adds it) and never a secret.

Errors of our own (`energymobile.*`) are worded for people already and are shown as they are.
The others a user can cause (a full disk, a read-only or forbidden folder, a database that is
full) are recognised by their error number or the driver's words and explained; anything
else is named by its type and first line, with a pointer to `--debug`.
"""

from __future__ import annotations

import errno
import os
import shutil
from collections.abc import Sequence
from pathlib import Path

from energymobile.redaction import scrub, url_secrets
from energymobile.settings import DATABASE_URL_VAR, Settings, SettingsError, sqlite_file

EXIT_FAILED = 1
EXIT_USAGE = 2
DEBUG_HINT = "run again with --debug for the traceback"
_OS_HINTS = {
    errno.ENOSPC: "the disk is full: free space there (or set ENERGYMOBILE_HOME to another "
    "disk) and run again",
    errno.EDQUOT: "the disk quota is used up: free space or raise the quota, and run again",
    errno.EROFS: "the file system is read-only: choose a writable folder (ENERGYMOBILE_HOME, "
    "ENERGYMOBILE_OBJECT_STORE, DAGSTER_HOME) and run again",
    errno.EACCES: "this user may not write there: fix the folder's permissions or choose "
    "another folder, and run again",
    errno.EPERM: "this user may not write there: fix the folder's permissions or choose "
    "another folder, and run again",
}
_SQLITE_WRITE_FAILURES = ("database or disk is full", "disk I/O error")
NEARLY_FULL_BYTES = 1 << 20
"""A disk with less free space than this is named as the full one."""


class UsageError(ValueError):
    """The command line asks for something that cannot be done as written."""


def explain(error: BaseException) -> tuple[list[str], int]:
    """The lines to print (secrets masked) and the exit status, for an error that ended a
    command."""
    from energymobile.cohorts import InvalidCohortKey

    if isinstance(error, SettingsError):
        return _scrubbed(error.problems), EXIT_USAGE
    if isinstance(error, UsageError | InvalidCohortKey):
        return _scrubbed([str(error)]), EXIT_USAGE
    return _scrubbed([_one_line(error)]), EXIT_FAILED


def _one_line(error: BaseException) -> str:
    text = _first_line(str(error))
    if type(error).__module__.startswith("energymobile."):
        return text or type(error).__name__
    full = _full_database(error)
    if full:
        return full
    if isinstance(error, OSError) and error.errno in _OS_HINTS:
        where = f"{error.filename}: " if error.filename else ""
        return f"{where}{error.strerror}: {_OS_HINTS[error.errno]}"
    return f"{type(error).__name__}: {text} ({DEBUG_HINT})"


def _full_database(error: BaseException) -> str | None:
    """SQLite reports a full disk as `database or disk is full` (SQLITE_FULL) or, when a
    journal cannot be written, `disk I/O error`, for whichever database it was: the warehouse
    or Dagster's own storage under DAGSTER_HOME. The line names the disk that is full."""
    text = str(error)
    if not any(words in text for words in _SQLITE_WRITE_FAILURES):
        return None
    full = [f"{name} ({path})" for name, path in _sqlite_folders() if _nearly_full(path)]
    where = " and ".join(full) or (
        "the warehouse (ENERGYMOBILE_DATABASE_URL) or Dagster's storage (DAGSTER_HOME)"
    )
    said = next(words for words in _SQLITE_WRITE_FAILURES if words in text)
    verdict = "is full" if full else "may be full, or failing"
    return (
        f"a SQLite database could not be written ({said}): the disk holding {where} "
        f"{verdict}: free space there and run again"
    )


def _sqlite_folders() -> list[tuple[str, Path]]:
    """The folders of the SQLite databases the CLI writes: Dagster's and the warehouse's."""
    folders = []
    if os.environ.get("DAGSTER_HOME"):
        folders.append(("DAGSTER_HOME", Path(os.environ["DAGSTER_HOME"])))
    try:
        database = sqlite_file(os.environ.get(DATABASE_URL_VAR) or Settings.from_env().database_url)
    except Exception:  # unreadable settings were reported already
        return folders
    if database is not None:
        folders.append(("the warehouse", database.absolute().parent))
    return folders


def _nearly_full(folder: Path) -> bool:
    try:
        return shutil.disk_usage(folder).free < NEARLY_FULL_BYTES
    except OSError:
        return False


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


def _scrubbed(lines: Sequence[str]) -> list[str]:
    secrets = url_secrets(os.environ.get(DATABASE_URL_VAR, ""))
    return [scrub(line, secrets) for line in lines]


def scrub_text(text: str) -> str:
    """Text (a traceback for --debug) with the database URL's secrets masked."""
    return scrub(text, url_secrets(os.environ.get(DATABASE_URL_VAR, "")))
