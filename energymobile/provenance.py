"""Which delivery of a cohort is where: on the landing, in the archive, in the warehouse.

Three records name a cohort's delivery, each written by a different step:

- the **landing** holds a drop; `drop_fingerprint` hashes its listing (names, sizes and
  modification times of the delivery format's files) without reading a byte;
- the **archive** (raw_archive's `manifest.json`) names its current delivery, the `delivery_id`
  of the delivered files' names, sizes and SHA-256s, and the fingerprint of the landing
  listing raw_logs read them from;
- the **warehouse** records in `cohorts.delivery` the delivery its rows come from.

`compare_drop` tells the landing sensor what a complete drop is, relative to the other two:
already loaded (by the CLI, the UI or the sensor itself), loaded only half-way (a run killed
between archiving and loading: the archive moved on, the warehouse did not), or something to
load. Pure functions: the sensor does the reading.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from energymobile.channels import PROFILE_FILE_NAME
from energymobile.ingest.formats import detect
from energymobile.ingest.formats.base import delivered_files
from energymobile.ingest.reduce import FileReceipt
from energymobile.storage.landing import LandedFile


def delivery_files(files: Mapping[str, LandedFile]) -> dict[str, LandedFile]:
    """The files of the folder that belong to its delivery: those of its format (of every
    format found, when it mixes them); not the `_SUCCESS` marker, notes or temporary files."""
    detection = detect(files)
    if detection.format is not None:
        owned: Iterable[str] = detection.format.file_names
    else:
        owned = [name for names in detection.found.values() for name in names]
    return {name: files[name] for name in owned if name in files}


def listing_fingerprint(files: Iterable[LandedFile]) -> str:
    """Names, sizes and modification times (ms) of the files, hashed: cheap, and changed by
    any re-delivery without reading a byte of the files."""
    lines = sorted(f"{f.name}\t{f.size}\t{f.modified:.3f}" for f in files)
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()[:16]


def drop_fingerprint(files: Mapping[str, LandedFile]) -> str:
    """The fingerprint of a cohort folder's delivery, as the sensor and raw_logs both see it."""
    return listing_fingerprint(delivery_files(files).values())


class Verdict(enum.Enum):
    """What a complete drop on the landing is, next to the archive and the warehouse."""

    NEW = "nothing of the cohort is archived"
    CHANGED = "the drop is not the archived delivery"
    LOADED = "the drop is the archived delivery, and the warehouse holds it"
    HALF_LOADED = "the drop is the archived delivery, but the warehouse holds another or none"
    UNSURE = "same names and sizes as the archived delivery: only the bytes can tell"

    @property
    def to_load(self) -> bool:
        return self in (Verdict.NEW, Verdict.CHANGED, Verdict.HALF_LOADED)


@dataclass(frozen=True)
class Archived:
    """What the archive's manifest says of the cohort's current delivery."""

    delivery: str
    receipts: tuple[FileReceipt, ...]
    landing_fingerprint: str | None
    """The landing listing it was read from (None: archived before this was recorded)."""

    def files(self) -> dict[str, FileReceipt]:
        """Each delivered data file (not the shared profile) by name, with size and SHA-256."""
        return {n: r for n, r in delivered_files(self.receipts).items() if n != PROFILE_FILE_NAME}


def compare_drop(
    files: Mapping[str, LandedFile],
    archived: Archived | None,
    loaded: Callable[[], str | None],
    sha256s: Mapping[str, str] | None = None,
    *,
    same: bool | None = None,
) -> Verdict:
    """The drop's verdict. `files` is the folder's listing, `archived` the archive's current
    delivery (None: none), `loaded()` the delivery the warehouse holds (None: none), asked only
    when the drop is the archived delivery; `sha256s` the drop's files' SHA-256s if read
    (needed only when UNSURE), `same` what an earlier comparison by content found."""
    if archived is None:
        return Verdict.NEW
    if same is None:
        same = same_delivery(files, archived, sha256s)
    if same is None:
        return Verdict.UNSURE
    if not same:
        return Verdict.CHANGED
    return Verdict.LOADED if loaded() == archived.delivery else Verdict.HALF_LOADED


def same_delivery(
    files: Mapping[str, LandedFile], archived: Archived, sha256s: Mapping[str, str] | None
) -> bool | None:
    """Is the drop the archived delivery? By its listing when the archive recorded it; else by
    names and sizes (a difference decides), then by content (None: the SHA-256s are needed)."""
    drop = delivery_files(files)
    if archived.landing_fingerprint == listing_fingerprint(drop.values()):
        return True
    receipts = archived.files()
    if set(drop) != set(receipts) or any(drop[n].size != r.bytes for n, r in receipts.items()):
        return False
    if sha256s is None:
        return None
    return all(sha256s.get(name) == receipt.sha256 for name, receipt in receipts.items())
