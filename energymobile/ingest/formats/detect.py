"""Which format a cohort arrived in, from the names of the files in its folder alone.

Each format owns its file names (`PS1.txt` … for TSV, `PS1.csv` … for CSV, `cycles.jsonl` for
JSON Lines). Names no format owns are not part of the delivery (notes, the archive's manifest,
a `profile.txt` beside the archived files), nor are names starting with `.` or `_` (temporary
files, the `_SUCCESS` marker). A folder holding files of exactly one format is in that format,
complete or not; files of two formats are an error, since either could be the one meant; an
empty folder is an incomplete TSV delivery (the rig's own format); a folder of only other
files is an error naming what is there. Works on a landing listing and on an archive alike.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from energymobile.ingest.errors import InputError
from energymobile.ingest.formats.base import DeliveryFormat, cohort_folder
from energymobile.ingest.formats.csv import CSV
from energymobile.ingest.formats.jsonl import JSONL
from energymobile.ingest.formats.per_channel import TSV

FORMATS: tuple[DeliveryFormat, ...] = (TSV, CSV, JSONL)
FORMAT_BY_NAME: dict[str, DeliveryFormat] = {f.name: f for f in FORMATS}
DEFAULT_FORMAT = TSV
SHOWN_NAMES = 4


@dataclass(frozen=True)
class Detection:
    """What a folder's listing says: its format (None if it cannot tell) and why not."""

    format: DeliveryFormat | None
    found: dict[str, tuple[str, ...]]
    """For each format with files present, those files."""
    others: tuple[str, ...]
    """Names no format owns."""

    @property
    def problem(self) -> str | None:
        if self.format is not None:
            return None
        if self.found:
            parts = [
                f"{len(names)} {name} file{'s' if len(names) > 1 else ''} ({shown(names)})"
                for name, names in self.found.items()
            ]
            return (
                f"mixes delivery formats: {' and '.join(parts)}; deliver one format per "
                "cohort (remove the other files)"
            )
        expected = "; ".join(f.summary for f in FORMATS)
        return f"holds no recognised delivery: found {shown(self.others)}; expected {expected}"

    def missing(self) -> list[str]:
        """The files of a complete delivery in the detected format that are not there."""
        if self.format is None:
            return []
        present = set(self.found.get(self.format.name, ()))
        return [n for n in self.format.file_names if n not in present]


def detect(names: Iterable[str]) -> Detection:
    listed = sorted(n for n in names if not n.startswith((".", "_")))
    found = {f.name: tuple(n for n in listed if f.owns(n)) for f in FORMATS}
    found = {name: files for name, files in found.items() if files}
    others = tuple(n for n in listed if not any(f.owns(n) for f in FORMATS))
    if len(found) == 1:
        chosen: DeliveryFormat | None = FORMAT_BY_NAME[next(iter(found))]
    else:
        chosen = DEFAULT_FORMAT if not found and not others else None
    return Detection(chosen, found, others)


def delivery_format(key: str, names: Iterable[str]) -> DeliveryFormat:
    """The cohort's format; InputError naming the folder if mixed or unrecognised."""
    detection = detect(names)
    if detection.format is None:
        raise InputError(cohort_folder(key), str(detection.problem))
    return detection.format


def shown(names: tuple[str, ...] | list[str]) -> str:
    """A few names, and how many more: messages stay one readable line."""
    head = ", ".join(names[:SHOWN_NAMES])
    return head + (f" and {len(names) - SHOWN_NAMES} more" if len(names) > SHOWN_NAMES else "")
