"""The landing sensor: when a cohort's drop is complete, request the whole chain for it.

A drop `logs/<cohort>/` is *complete* when every file of its delivery format is there (17
`<CODE>.txt`, 17 `<CODE>.csv` or one `cycles.jsonl`; the format is told from the names, as
`read_delivery` tells it, see ingest/formats) and either

- a `_SUCCESS` marker is present, written after the last data file (an export that writes
  one is loaded on the next tick), or
- the listing (names, sizes, modification times of the format's files) is the same as on the
  previous tick and nothing has been modified for `settle_seconds`. The technicians' export
  writes no marker today, so this is the rule that normally applies.

A folder mixing two formats, or holding none, is never complete: it is reported, like a drop
with missing files, until it is cleared up.

It works only through the `Landing` interface (`cohort_folders`, `list_cohort`), so the local
folder and the S3 prefix behave the same. The cursor remembers, per cohort folder, the listing
last seen and the one last loaded: each tick lists the folder *names*, the contents of new or
unsettled folders, and only a few already-loaded folders (least recently checked first), so
the history is never listed whole on one tick, yet a corrected re-delivery of an old cohort is
found within a few ticks. The run key is `<cohort>:<fingerprint of the listing>`: Dagster
never starts two runs with the same key from this sensor, so an unchanged drop is loaded once
even if the cursor is reset, and a re-delivery (new sizes or times, or another format) gets a
new key.

Folders that are not cohort keys, cohorts still in progress and drops that stay incomplete are
reported: in the tick's skip reason every tick, and as a warning in the sensor's logs once.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

import dagster as dg

from energymobile.cohorts import InvalidCohortKey, cohort_window, parse_cohort_key
from energymobile.defs.partitions import cohort_partitions
from energymobile.ingest.formats import FORMATS, detect
from energymobile.ingest.formats.detect import shown
from energymobile.storage.landing import LandedFile, Landing
from energymobile.storage.resources import LandingResource

if TYPE_CHECKING:  # what define_asset_job returns; not exported by `dagster` itself
    from dagster._core.definitions.unresolved_asset_job_definition import (
        UnresolvedAssetJobDefinition,
    )

SENSOR_NAME = "landing_sensor"
SUCCESS_MARKER = "_SUCCESS"
MINIMUM_INTERVAL_SECONDS = 15
SETTLE_SECONDS = 30
"""A drop without a marker must be unchanged for this long (and across two ticks)."""
STALLED_AFTER_SECONDS = 15 * 60
"""An incomplete drop older than this is warned about (once) in the sensor's logs."""
RECHECK_PER_TICK = 4
"""Already-loaded folders re-listed per tick, to notice a corrected re-delivery."""
MAX_REQUESTS_PER_TICK = 8
"""More complete drops than this wait for the next tick, so a history does not flood the queue."""
FINGERPRINT_TAG = "energymobile/landing_fingerprint"
FORMAT_TAG = "energymobile/delivery_format"
TRIGGER_TAG = "energymobile/trigger"
CURSOR_VERSION = 1


@dataclass
class FolderState:
    """What the sensor knows about one cohort folder between ticks."""

    fingerprint: str
    """Fingerprint of the listing last seen."""
    checked_at: float
    """When the folder was last listed."""
    loaded: str | None = None
    """Fingerprint of the drop last requested (None: never)."""
    incomplete_since: float | None = None
    warned: bool = False


@dataclass
class LandingCursor:
    folders: dict[str, FolderState] = field(default_factory=dict)
    ignored: list[str] = field(default_factory=list)
    """Folder names already warned about as not being cohort keys."""

    def to_json(self) -> str:
        return json.dumps(
            {
                "v": CURSOR_VERSION,
                "folders": {k: asdict(v) for k, v in sorted(self.folders.items())},
                "ignored": sorted(self.ignored),
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str | None) -> LandingCursor:
        """An unreadable or older cursor starts afresh: run keys still prevent double loads."""
        if not text:
            return cls()
        try:
            data = json.loads(text)
            if data.get("v") != CURSOR_VERSION:
                return cls()
            folders = {k: FolderState(**v) for k, v in data["folders"].items()}
            return cls(folders=folders, ignored=list(data.get("ignored", [])))
        except (ValueError, TypeError, KeyError, AttributeError):
            return cls()


@dataclass(frozen=True)
class CohortDrop:
    """A complete drop to load."""

    key: str
    fingerprint: str
    files: int
    bytes: int
    marker: bool
    format: str

    @property
    def run_key(self) -> str:
        return f"{self.key}:{self.fingerprint}"


@dataclass
class LandingScan:
    drops: list[CohortDrop]
    notes: list[str]
    """One line per folder that was not loaded this tick, saying why."""
    warnings: list[str]
    """New problems, to log once."""
    cursor: LandingCursor
    up_to_date: int


def fingerprint(files: Iterable[LandedFile]) -> str:
    """Names, sizes and modification times (ms) of the files, hashed: cheap, and changed by
    any re-delivery without reading a byte of the files."""
    lines = sorted(f"{f.name}\t{f.size}\t{f.modified:.3f}" for f in files)
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()[:16]


def scan_landing(
    landing: Landing,
    cursor: LandingCursor,
    now: float,
    *,
    settle_seconds: float = SETTLE_SECONDS,
    stalled_after_seconds: float = STALLED_AFTER_SECONDS,
    recheck_per_tick: int = RECHECK_PER_TICK,
    max_requests: int = MAX_REQUESTS_PER_TICK,
    partition_exists: Callable[[str], bool] = cohort_partitions.has_partition_key,
) -> LandingScan:
    """One tick of the sensor, without Dagster: what to load, what to report, the new cursor."""
    names = landing.cohort_folders()
    folders = {k: v for k, v in cursor.folders.items() if k in names}  # forget removed folders
    notes: list[str] = []
    warnings: list[str] = []
    ignored: list[str] = []
    cohorts: list[str] = []
    for name in names:
        try:
            parse_cohort_key(name)
        except InvalidCohortKey as err:
            ignored.append(name)
            notes.append(f"ignored folder {name!r}: {err}")
            if name not in cursor.ignored:
                warnings.append(f"ignored landing folder {landing.describe(name)}: {err}")
            continue
        if not partition_exists(name):
            end = cohort_window(name)[1]
            notes.append(f"{name}: the cohort runs until {end:%Y-%m-%d}; loaded after that")
            continue
        cohorts.append(name)

    pending = [
        n for n in cohorts if n not in folders or folders[n].loaded != folders[n].fingerprint
    ]
    loaded = sorted((n for n in cohorts if n not in pending), key=lambda n: folders[n].checked_at)
    to_list = pending + loaded[:recheck_per_tick]
    drops: list[CohortDrop] = []
    for name in to_list:
        state, drop, note, warning = _assess(
            name,
            landing.list_cohort(name),
            folders.get(name),
            now,
            settle_seconds=settle_seconds,
            stalled_after_seconds=stalled_after_seconds,
        )
        if drop is not None and len(drops) >= max_requests:
            drop, note = None, f"{name}: complete; requested on a later tick (limit {max_requests})"
        if drop is not None:
            state.loaded = drop.fingerprint
            drops.append(drop)
        folders[name] = state
        if note:
            notes.append(note)
        if warning:
            warnings.append(f"{landing.describe(name)}: {warning}")
    up_to_date = sum(
        1 for n in cohorts if folders.get(n) and folders[n].loaded == folders[n].fingerprint
    )
    return LandingScan(
        drops=drops,
        notes=notes,
        warnings=warnings,
        cursor=LandingCursor(folders=folders, ignored=ignored),
        up_to_date=up_to_date - len(drops),
    )


def _assess(
    name: str,
    files: Mapping[str, LandedFile],
    previous: FolderState | None,
    now: float,
    *,
    settle_seconds: float,
    stalled_after_seconds: float,
) -> tuple[FolderState, CohortDrop | None, str | None, str | None]:
    """The folder's new state, and a drop to load, a note or a warning (each maybe None)."""
    detection = detect(files)
    fmt = detection.format
    owned = fmt.file_names if fmt else [n for names in detection.found.values() for n in names]
    data = [files[n] for n in owned if n in files]
    marker = files.get(SUCCESS_MARKER)
    fp = fingerprint([*data, *([marker] if marker else [])])
    same = previous is not None and previous.fingerprint == fp
    state = FolderState(
        fingerprint=fp,
        checked_at=now,
        loaded=previous.loaded if previous else None,
    )
    missing = detection.missing()
    if fmt is None or missing:
        since = previous.incomplete_since if previous and previous.incomplete_since else now
        state.incomplete_since = since
        state.warned = bool(previous and previous.warned)
        if fmt is None:
            problem = str(detection.problem)
            note = f"{name}: {problem}"
        else:
            problem = f"lacks {len(missing)} files: {shown(missing)}"
            note = (
                f"{name}: incomplete, {len(data)} of {len(fmt.file_names)} files "
                f"(missing {shown(missing)})"
            )
        warning = None
        if not state.warned and (marker or now - since >= stalled_after_seconds):
            reason = (
                "has a _SUCCESS marker but"
                if marker
                else (f"has stayed incomplete for {(now - since) / 60:.0f} min and")
            )
            warning = f"cohort {name} {reason} {problem}"
            state.warned = True
        return state, None, note, warning
    if fp == state.loaded:
        return state, None, None, None
    newest = max(f.modified for f in data)
    drop = CohortDrop(name, fp, len(data), sum(f.size for f in data), marker is not None, fmt.name)
    if marker is not None and marker.modified >= newest:
        return state, drop, None, None
    quiet = now - newest
    if same and quiet >= settle_seconds:
        return state, drop, None, None
    present = (
        f"all {len(data)} files present, waiting for them"
        if len(data) > 1
        else f"{data[0].name} present, waiting for it"
    )
    note = (
        f"{name}: {present} to settle (last change {max(quiet, 0):.0f} s ago; loaded once "
        f"unchanged for {settle_seconds:.0f} s)"
    )
    return state, None, note, None


def build_landing_sensor(
    job: UnresolvedAssetJobDefinition | dg.JobDefinition,
    *,
    minimum_interval_seconds: int = MINIMUM_INTERVAL_SECONDS,
    settle_seconds: float = SETTLE_SECONDS,
    stalled_after_seconds: float = STALLED_AFTER_SECONDS,
    clock: Callable[[], float] = time.time,
    default_status: dg.DefaultSensorStatus = dg.DefaultSensorStatus.RUNNING,
) -> dg.SensorDefinition:
    """The sensor, requesting `job` (the whole cohort chain) for each complete drop. Running
    by default: a drop into a running `dagster dev` loads with no click."""

    @dg.sensor(
        name=SENSOR_NAME,
        job=job,
        minimum_interval_seconds=minimum_interval_seconds,
        default_status=default_status,
        description=(
            "Requests the whole chain for a cohort when its drop in ENERGYMOBILE_LANDING is "
            "complete: every file of its format present ("
            + " or ".join(f.summary for f in FORMATS)
            + f") and unchanged for {settle_seconds:.0f} s, or a _SUCCESS marker. Run key = "
            "cohort + fingerprint of the files, so an unchanged drop loads once and a "
            "corrected re-delivery (or one in another format) loads again."
        ),
    )
    def landing_sensor(
        context: dg.SensorEvaluationContext, landing: LandingResource
    ) -> dg.SensorResult:
        source = landing.open()
        scan = scan_landing(
            source,
            LandingCursor.from_json(context.cursor),
            clock(),
            settle_seconds=settle_seconds,
            stalled_after_seconds=stalled_after_seconds,
        )
        for warning in scan.warnings:
            context.log.warning(warning)
        requests = []
        for drop in scan.drops:
            context.log.info(
                f"requesting {drop.key}: {drop.format}, {drop.files} files, {drop.bytes:,} "
                f"bytes, fingerprint {drop.fingerprint}" + (" (_SUCCESS)" if drop.marker else "")
            )
            requests.append(
                dg.RunRequest(
                    run_key=drop.run_key,
                    partition_key=drop.key,
                    tags={
                        FINGERPRINT_TAG: drop.fingerprint,
                        TRIGGER_TAG: SENSOR_NAME,
                        FORMAT_TAG: drop.format,
                    },
                )
            )
        skip = None if requests else skip_reason(source.describe(), scan)
        return dg.SensorResult(
            run_requests=requests, skip_reason=skip, cursor=scan.cursor.to_json()
        )

    return landing_sensor


def skip_reason(where: str, scan: LandingScan) -> str:
    """Why nothing was requested, folder by folder: never silence."""
    head = f"No new or changed complete drop in {where} ({scan.up_to_date} cohorts up to date)."
    return " ".join([head, *(f"[{note}]" for note in scan.notes)])
