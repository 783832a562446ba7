"""Dagster's own storage for the CLI: a path Dagster can use for any folder name, and its
tables created by one process at a time.

Dagster 1.13 builds the URL of its SQLite files by pasting the folder into `sqlite:///…`
(`dagster._core.storage.sqlite.create_db_conn_string`), so a `?` in the path starts the URL's
query and a `%` starts an escape: `DAGSTER_HOME=/data/q?1` fails with "unable to open database
file", `/data/100%41` opens `/data/100A`. Such a folder is handed to Dagster through a symbolic
link without those characters, kept in the user's cache folder and named by a hash of the real
path (so one folder always gets the same link). Every other character (`#`, spaces,
non-ASCII) works as it is.

Two CLIs started together on a new DAGSTER_HOME would both create Dagster's SQLite tables, and
one fails ("table alembic_version already exists"): `setting_up` creates them under a file
lock.
"""

from __future__ import annotations

import errno
import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import Timeout, UnixFileLock

UNSAFE_CHARACTERS = ("?", "%")
LINKS_FOLDER = "energymobile/dagster-homes"
INIT_LOCK = ".energymobile-init.lock"
INIT_LOCK_WAIT_S = 300.0
_HINTS = {
    errno.ENOSPC: "the disk is full: free space there, or set DAGSTER_HOME to another disk",
    errno.EROFS: "the file system is read-only: set DAGSTER_HOME to a writable folder",
    errno.EACCES: "this user may not write there: set DAGSTER_HOME to a writable folder",
}


class DagsterHomeError(RuntimeError):
    """No usable path to Dagster's storage could be made."""


def is_safe(path: Path) -> bool:
    return not any(char in str(path) for char in UNSAFE_CHARACTERS)


def usable_path(folder: Path) -> Path:
    """`folder` itself if Dagster can use its path; otherwise a link to it that Dagster can
    use (created or repointed as needed)."""
    folder = folder.absolute()
    if is_safe(folder):
        return folder
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    link = cache / LINKS_FOLDER / hashlib.sha256(os.fsencode(folder)).hexdigest()[:16]
    if not is_safe(link):
        raise DagsterHomeError(
            f"Dagster cannot keep its storage in {folder} (a '?' or '%' in the path), and no "
            f"link without them could be made under {cache}: set DAGSTER_HOME to a folder "
            "whose path holds neither"
        )
    link.parent.mkdir(parents=True, exist_ok=True)
    if link.is_symlink() and Path(os.readlink(link)) == folder:
        return link
    temporary = link.with_name(f".{link.name}.{os.getpid()}")
    temporary.unlink(missing_ok=True)
    temporary.symlink_to(folder, target_is_directory=True)
    os.replace(temporary, link)  # atomic, so two CLIs starting together agree
    return link


@contextmanager
def setting_up(folder: Path) -> Iterator[None]:
    """Hold DAGSTER_HOME's set-up lock (other CLIs wait for it) while the block writes its
    dagster.yaml if missing; then create Dagster's storage there, if not there yet."""
    import dagster as dg

    try:
        with _locked(folder / INIT_LOCK, INIT_LOCK_WAIT_S):
            yield
            with dg.DagsterInstance.get():
                pass
    except OSError as err:  # the folder is full, read-only or forbidden
        hint = _HINTS.get(err.errno or 0, "choose another folder (DAGSTER_HOME)")
        raise DagsterHomeError(
            f"cannot set up Dagster's storage in {folder} (DAGSTER_HOME): "
            f"{err.strerror or err}: {hint}, and run again"
        ) from err


@contextmanager
def _locked(path: Path, wait_s: float) -> Iterator[None]:
    """The set-up lock on `path` (flock: the kernel releases it when its holder dies, so a
    killed CLI never leaves it stuck); a holder past `wait_s` is named as another energymobile."""
    try:
        held = UnixFileLock(path, timeout=wait_s).acquire()
    except Timeout:
        raise DagsterHomeError(
            f"{path} is held by another process for over {wait_s:.0f} s: is "
            "another energymobile still starting on this DAGSTER_HOME?"
        ) from None
    with held:
        yield
