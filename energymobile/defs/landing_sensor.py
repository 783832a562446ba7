"""The landing sensor: when a cohort's drop is complete, request the whole chain for it, unless
that delivery is already loaded; reload a cohort whose archive and warehouse disagree.

A drop `logs/<cohort>/` is *complete* when every file of its delivery format is there (17
`<CODE>.txt`, 17 `<CODE>.csv` or one `cycles.jsonl`; the format is told from the names, as
`read_delivery` tells it, see ingest/formats) and either

- a `_SUCCESS` marker is present, written after the last data file (an export that writes
  one is loaded on the next tick), or
- the listing (names, sizes, modification times of the format's files) is the same as on the
  previous tick and has not changed for `settle_seconds` (ENERGYMOBILE_LANDING_SETTLE_SECONDS):
  since its newest modification time, but no earlier than the sensor's last look that saw it
  otherwise, so files keeping old times cannot look settled sooner. The technicians' export
  writes no marker today, so this is the rule that normally applies.

A folder mixing two formats, or holding none, is never complete: it is reported, like a drop
with missing files, until it is cleared up.

A complete drop is then compared with what the platform holds (energymobile.provenance): the
archive's current delivery (its manifest records the landing listing raw_logs read it from)
and the delivery the warehouse's rows come from. Whoever loaded it (the CLI, the UI, this
sensor), a drop that is the archived delivery the warehouse holds is not requested: nothing is
loaded twice. A drop whose listing differs but whose names and sizes match is compared by
content (SHA-256, a bounded number of bytes per tick), so touching or re-copying the same bytes
loads nothing either. A drop that is the archived delivery while the warehouse holds another
(a run killed between archiving and loading) is reloaded once no run of the cohort is queued or
running, at most MAX_RELOADS times.

It works only through the `Landing` interface (`cohort_folders`, `list_cohort`,
`read_cohort_file`), so the local folder and the S3 prefix behave the same. The cursor
remembers, per cohort folder, the listing last seen and the one last requested or found
loaded: each tick lists the folder *names*, the contents of new or unsettled folders, and only
a few already-loaded folders (least recently checked first), comparing those with the archive
and the warehouse again; so the history is never listed whole on one tick, yet a corrected
re-delivery or a half-loaded cohort is found within a few ticks. The run key is
`<cohort>:<fingerprint of the listing>` (a reload adds `:reload-<delivery>-<n>`): Dagster never
starts two runs with the same key from this sensor.

Folders that are not cohort keys, cohorts still in progress and drops that stay incomplete are
reported: in the tick's skip reason every tick, and as a warning in the sensor's logs once.

A fleet landing (`sites/<site>/<rig>/logs/`, storage/landing.py) is scanned rig by rig, each
rig through the same rules and with a cursor of its own; the drops that landed are requested
as (cohort, site) partitions, one run per (cohort, site) (which loads every rig of the site
that delivered the cohort), and a site seen for the first time is added to the `sites`
partitions first (docs/fleet.md).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Protocol

import dagster as dg

from energymobile.cohorts import InvalidCohortKey, cohort_window, parse_cohort_key
from energymobile.defs.partitions import (
    cohort_partitions,
    partition_key,
    site_partitions,
)
from energymobile.ingest.formats import FORMATS, detect
from energymobile.ingest.formats.detect import shown
from energymobile.provenance import (
    Archived,
    Verdict,
    compare_drop,
    delivery_files,
    same_delivery,
)
from energymobile.provenance import listing_fingerprint as fingerprint
from energymobile.rigs import DEFAULT_RIG, Rig
from energymobile.settings import DEFAULT_LANDING_SETTLE_SECONDS
from energymobile.storage.archive import ArchiveMissing, read_archive
from energymobile.storage.landing import LandedFile, Landing, RigView
from energymobile.storage.resources import LandingResource, ObjectStoreResource, WarehouseResource

if TYPE_CHECKING:  # what define_asset_job returns; not exported by `dagster` itself
    from dagster._core.definitions.unresolved_asset_job_definition import (
        UnresolvedAssetJobDefinition,
    )

SENSOR_NAME = "landing_sensor"
SUCCESS_MARKER = "_SUCCESS"
MINIMUM_INTERVAL_SECONDS = 4
"""On every loop of Dagster's sensor daemon (one every 5 s at most): a settled drop waits at
most 5 s for its request. Not 5: a loop coming a few ms short of 5 s after the last tick would
skip, and the sensor would tick every 10 s (measured). A tick lists only a few folders."""
SETTLE_SECONDS = DEFAULT_LANDING_SETTLE_SECONDS
"""The default; the project's sensor uses the setting ENERGYMOBILE_LANDING_SETTLE_SECONDS."""
STALLED_AFTER_SECONDS = 15 * 60
"""An incomplete drop older than this is warned about (once) in the sensor's logs."""
RECHECK_PER_TICK = 4
"""Already-loaded folders re-listed (and compared with the archive and warehouse) per tick."""
MAX_REQUESTS_PER_TICK = 8
"""More complete drops than this wait for the next tick, so a history does not flood the queue."""
HASH_BYTES_PER_TICK = 512 << 20
"""Bytes of the landing read per tick to compare drops by content, and at least one drop (a
full-size cohort, 574 MB, read and hashed in 2.5 s here); a larger backlog (a whole history
touched at once) is compared over the following ticks."""
MAX_RELOADS = 3
"""Reloads of a half-loaded cohort (archive and warehouse disagree) before giving up with a
warning: a reload that keeps failing needs a person."""
FINGERPRINT_TAG = "energymobile/landing_fingerprint"
FORMAT_TAG = "energymobile/delivery_format"
TRIGGER_TAG = "energymobile/trigger"
REASON_TAG = "energymobile/landing_reason"
PARTITION_TAG = "dagster/partition"
WILL_RETRY_TAG = "dagster/will_retry"
"""Dagster's tag on a failed run it is about to retry (when run_retries are on)."""
CURSOR_VERSION = 1
FINISHED = (dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED)
UNFINISHED = [status for status in dg.DagsterRunStatus if status not in FINISHED]
"""Queued, starting, running, canceling: a run of the cohort that may still write."""


@dataclass
class FolderState:
    """What the sensor knows about one cohort folder between ticks."""

    fingerprint: str
    """Fingerprint of the listing last seen."""
    checked_at: float
    """When the folder was last listed."""
    stable_since: float | None = None
    """Since when the listing is known to be as it is: its newest modification time, but no
    earlier than the last look that saw it otherwise (modification times can be old: `cp -p`,
    `rsync -t`, an S3 object's LastModified, a clock that differs)."""
    loaded: str | None = None
    """Fingerprint of the drop last requested or found already loaded (None: neither)."""
    incomplete_since: float | None = None
    warned: bool = False
    compared_with: str | None = None
    """The archived delivery this listing was last compared with by content..."""
    same: bool = False
    """...and whether it was the same bytes (saves reading the drop again)."""
    reloads: int = 0
    """Reloads requested for `reload_of`."""
    reload_of: str | None = None
    """`<fingerprint>:<archived delivery>` of the half-loaded state being reloaded."""


@dataclass
class LandingCursor:
    folders: dict[str, FolderState] = field(default_factory=dict)
    ignored: list[str] = field(default_factory=list)
    """Folder names already warned about as not being cohort keys."""
    scanned_at: float | None = None
    """When the folder names were last listed: a folder new since was written after it."""

    def to_json(self) -> str:
        return json.dumps(
            {
                "v": CURSOR_VERSION,
                "folders": {k: asdict(v) for k, v in sorted(self.folders.items())},
                "ignored": sorted(self.ignored),
                "scanned_at": self.scanned_at,
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str | None) -> LandingCursor:
        """An unreadable or older cursor starts afresh: run keys and the archive's and
        warehouse's records still prevent double loads."""
        if not text:
            return cls()
        try:
            data = json.loads(text)
            if data.get("v") != CURSOR_VERSION:
                return cls()
            folders = {k: FolderState(**v) for k, v in data["folders"].items()}
            return cls(
                folders=folders,
                ignored=list(data.get("ignored", [])),
                scanned_at=data.get("scanned_at"),
            )
        except (ValueError, TypeError, KeyError, AttributeError):
            return cls()


@dataclass(frozen=True)
class CohortDrop:
    """A complete drop to load (or reload)."""

    key: str
    fingerprint: str
    files: int
    bytes: int
    marker: bool
    format: str
    reason: str = "new drop"
    reload: str | None = None
    """For a reload: `<archived delivery>-<attempt>`."""

    @property
    def run_key(self) -> str:
        base = f"{self.key}:{self.fingerprint}"
        return f"{base}:reload-{self.reload}" if self.reload else base


@dataclass
class LandingScan:
    drops: list[CohortDrop]
    notes: list[str]
    """One line per folder that was not loaded this tick, saying why."""
    warnings: list[str]
    """New problems, to log once."""
    cursor: LandingCursor
    up_to_date: int


class RecordsUnavailable(RuntimeError):
    """The archive or the warehouse could not be read this tick (the message says which and
    why, without secrets); the folder is looked at again next tick."""


class Records(Protocol):
    """What the platform holds of each cohort, as the sensor reads it."""

    def archived(self, key: str) -> Archived | None:
        """The archive's current delivery (None: nothing archived)."""
        ...

    def loaded(self, key: str) -> str | None:
        """The delivery the warehouse's rows come from (None: not loaded)."""
        ...

    def busy(self, key: str) -> str | None:
        """A queued or running run of the cohort, described (None: none)."""
        ...

    def sha256s(self, key: str, names: Sequence[str]) -> dict[str, str]:
        """The SHA-256 of each named file of the drop."""
        ...


class NothingRecorded:
    """An empty platform: nothing archived, loaded or running."""

    def archived(self, key: str) -> Archived | None:
        return None

    def loaded(self, key: str) -> str | None:
        return None

    def busy(self, key: str) -> str | None:
        return None

    def sha256s(self, key: str, names: Sequence[str]) -> dict[str, str]:
        return {}


@dataclass
class HashBudget:
    """Bytes of the landing the tick may still read to compare drops by content."""

    left: int
    spent: int = 0

    def take(self, size: int) -> bool:
        """At least one drop per tick, however large; then only what fits."""
        if self.spent and size > self.left:
            return False
        self.left -= size
        self.spent += size
        return True


def scan_landing(
    landing: Landing,
    cursor: LandingCursor,
    now: float,
    *,
    records: Records | None = None,
    settle_seconds: float = SETTLE_SECONDS,
    stalled_after_seconds: float = STALLED_AFTER_SECONDS,
    recheck_per_tick: int = RECHECK_PER_TICK,
    max_requests: int = MAX_REQUESTS_PER_TICK,
    hash_bytes: int = HASH_BYTES_PER_TICK,
    partition_exists: Callable[[str], bool] = cohort_partitions.has_partition_key,
) -> LandingScan:
    """One tick of the sensor, without Dagster: what to load, what to report, the new cursor."""
    records = records or NothingRecorded()
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
    budget = HashBudget(hash_bytes)
    for name in to_list:
        files = landing.list_cohort(name)
        state, ready, note, warning = _assess(
            name,
            files,
            folders.get(name),
            now,
            last_scan=cursor.scanned_at,
            settle_seconds=settle_seconds,
            stalled_after_seconds=stalled_after_seconds,
            records=records,
        )
        if ready is not None:
            drop, note, warning = _judge(ready, files, state, records, budget)
        else:
            drop = None
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
        cursor=LandingCursor(folders=folders, ignored=ignored, scanned_at=now),
        up_to_date=up_to_date - len(drops),
    )


def _assess(
    name: str,
    files: Mapping[str, LandedFile],
    previous: FolderState | None,
    now: float,
    *,
    last_scan: float | None,
    settle_seconds: float,
    stalled_after_seconds: float,
    records: Records,
) -> tuple[FolderState, CohortDrop | None, str | None, str | None]:
    """The folder's new state, and a complete drop ready to be judged (settled, marked, already
    requested or identical to the archived listing), a note or a warning (each maybe None)."""
    detection = detect(files)
    fmt = detection.format
    data = list(delivery_files(files).values())
    marker = files.get(SUCCESS_MARKER)
    fp = fingerprint(data)
    same = previous is not None and previous.fingerprint == fp
    state = FolderState(fingerprint=fp, checked_at=now)
    if previous is not None:
        state.loaded = previous.loaded
        if same:  # what was learnt of this listing still holds
            state.compared_with, state.same = previous.compared_with, previous.same
            state.reloads, state.reload_of = previous.reloads, previous.reload_of
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
    newest = max(f.modified for f in data)
    if same and previous is not None and previous.stable_since is not None:
        state.stable_since = previous.stable_since
    else:  # changed since the last look at it (or since the last scan, for a new folder)
        last_look = previous.checked_at if previous is not None else last_scan
        state.stable_since = max(newest, now if last_look is None else last_look)
    drop = CohortDrop(name, fp, len(data), sum(f.size for f in data), marker is not None, fmt.name)
    if fp == state.loaded:  # requested or found loaded before: compare with what is stored
        return state, drop, None, None
    if marker is not None and marker.modified >= newest:
        return state, drop, None, None
    quiet = now - state.stable_since
    if same and quiet >= settle_seconds:
        return state, drop, None, None
    if _archived_listing(records, name) == fp:  # exactly what raw_logs read: nothing to wait for
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


def _archived_listing(records: Records, key: str) -> str | None:
    try:
        archived = records.archived(key)
    except RecordsUnavailable:
        return None
    return archived.landing_fingerprint if archived else None


def _judge(
    drop: CohortDrop,
    files: Mapping[str, LandedFile],
    state: FolderState,
    records: Records,
    budget: HashBudget,
) -> tuple[CohortDrop | None, str | None, str | None]:
    """A complete drop next to the archive and the warehouse: the drop to request (None:
    nothing to do), a note and a warning. Updates `state` with what was learnt."""
    name, requested = drop.key, drop.fingerprint == state.loaded
    try:
        archived = records.archived(name)
        known = None  # what an earlier comparison by content found
        if archived is not None and state.compared_with == archived.delivery:
            known = state.same
        verdict = compare_drop(files, archived, lambda: records.loaded(name), same=known)
        if verdict is Verdict.UNSURE:
            if not budget.take(drop.bytes):
                later = f"{name}: same names and sizes as the archived delivery; compared "
                return None, later + "by content on a later tick", None
            assert archived is not None
            sha256s = records.sha256s(name, sorted(delivery_files(files)))
            state.compared_with = archived.delivery
            state.same = bool(same_delivery(files, archived, sha256s))
            verdict = compare_drop(files, archived, lambda: records.loaded(name), same=state.same)
    except RecordsUnavailable as err:
        return None, f"{name}: not compared with what is stored this tick ({err})", None

    if verdict in (Verdict.NEW, Verdict.CHANGED):
        if requested:  # requested already: not archived (yet), or it failed a rule
            return None, None, None
        reason = "new delivery" if verdict is Verdict.NEW else "changed delivery"
        return _with(drop, reason=reason), None, None
    assert archived is not None
    if verdict is Verdict.LOADED:
        state.loaded, state.reloads, state.reload_of = drop.fingerprint, 0, None
        if requested:
            return None, None, None
        return None, f"{name}: already loaded (delivery {archived.delivery}); not requested", None
    return _reload(drop, state, records, archived)


def _reload(
    drop: CohortDrop, state: FolderState, records: Records, archived: Archived
) -> tuple[CohortDrop | None, str | None, str | None]:
    """The drop is the archived delivery, but the warehouse holds another or none."""
    name = drop.key
    held = records.loaded(name)
    what = f"{name}: the archive holds delivery {archived.delivery}, the warehouse " + (
        f"delivery {held}" if held else "none"
    )
    run = records.busy(name)
    if run is not None:
        return None, f"{what}; waiting for {run}", None
    attempt = f"{drop.fingerprint}:{archived.delivery}"
    if state.reload_of != attempt:
        state.reload_of, state.reloads = attempt, 0
    if state.reloads >= MAX_RELOADS:
        note = f"{what}; {MAX_RELOADS} reloads did not fix it: re-execute the cohort's run"
        warning = note if state.reloads == MAX_RELOADS else None
        state.reloads += 1  # warned once
        return None, note, warning
    state.reloads += 1
    reason = f"reload: {what.split(': ', 1)[1]}"
    return _with(drop, reason=reason, reload=f"{archived.delivery}-{state.reloads}"), None, None


def _with(drop: CohortDrop, **changes: object) -> CohortDrop:
    return CohortDrop(**{**asdict(drop), **changes})  # type: ignore[arg-type]


class StoredRecords:
    """Records read from the object store (manifests), the warehouse (`cohorts.delivery`),
    Dagster's run storage (runs of a cohort) and the landing (a drop's bytes, for SHA-256s).
    Each is read at most once per tick."""

    def __init__(
        self,
        landing: Landing,
        object_store: ObjectStoreResource,
        warehouse: WarehouseResource,
        instance: Callable[[], dg.DagsterInstance],
        rig: Rig = DEFAULT_RIG,
        shared: dict[str, dict[tuple[Rig, str], str | None]] | None = None,
    ) -> None:
        self._landing = landing
        self._object_store = object_store
        self._warehouse = warehouse
        self._instance = instance
        self._rig = rig
        self._archives: dict[str, Archived | None] = {}
        self._shared = {} if shared is None else shared
        """"loaded": (rig, cohort) -> delivery, for every rig: read once per tick, shared by
        the records of every rig (`for_rig`)."""

    def for_rig(self, landing: Landing, rig: Rig) -> StoredRecords:
        """The same records for another rig (the warehouse's, once read, shared)."""
        return StoredRecords(
            landing, self._object_store, self._warehouse, self._instance, rig, self._shared
        )

    def archived(self, key: str) -> Archived | None:
        if key not in self._archives:
            try:
                archive = read_archive(self._object_store.open(), key, self._rig)
            except ArchiveMissing:
                self._archives[key] = None
            except Exception as err:  # the store's own error may be long; its type says enough
                raise RecordsUnavailable(
                    f"the archive's manifest could not be read: {type(err).__name__}"
                ) from err
            else:
                self._archives[key] = Archived(
                    archive.delivery, archive.receipts, archive.landing_fingerprint
                )
        return self._archives[key]

    def loaded(self, key: str) -> str | None:
        if "loaded" not in self._shared:
            warehouse = self._warehouse.get()
            try:
                self._shared["loaded"] = warehouse.rig_deliveries()
            except Exception as err:  # never the driver's text: it may quote the URL
                raise RecordsUnavailable(
                    f"the warehouse {warehouse.safe_url} could not be read: {type(err).__name__}"
                ) from err
        return self._shared["loaded"].get((self._rig, key))

    def busy(self, key: str) -> str | None:
        """A run of the cohort (of the rig's site) not finished, or the latest one failed and
        about to be retried by Dagster (run_retries in dagster.yaml): either may still load
        it."""
        instance = self._instance()
        cohort = {PARTITION_TAG: str(partition_key(key, self._rig.site))}
        for filters in (
            dg.RunsFilter(tags=cohort, statuses=UNFINISHED),
            dg.RunsFilter(tags=cohort),
        ):
            records = instance.get_run_records(filters=filters, limit=1)
            if not records:
                continue
            run = records[0].dagster_run
            if run.status in UNFINISHED:
                return f"run {run.run_id[:8]} of the cohort ({run.status.value})"
            if run.tags.get(WILL_RETRY_TAG) == "true":
                return f"run {run.run_id[:8]} of the cohort, which Dagster retries"
        return None

    def sha256s(self, key: str, names: Sequence[str]) -> dict[str, str]:
        try:
            return {
                name: hashlib.sha256(self._landing.read_cohort_file(key, name)).hexdigest()
                for name in names
            }
        except Exception as err:
            raise RecordsUnavailable(
                f"the drop could not be read to compare it: {type(err).__name__}"
            ) from err


def build_landing_sensor(
    job: UnresolvedAssetJobDefinition | dg.JobDefinition,
    *,
    minimum_interval_seconds: int = MINIMUM_INTERVAL_SECONDS,
    settle_seconds: float = SETTLE_SECONDS,
    stalled_after_seconds: float = STALLED_AFTER_SECONDS,
    clock: Callable[[], float] = time.time,
    default_status: dg.DefaultSensorStatus = dg.DefaultSensorStatus.RUNNING,
) -> dg.SensorDefinition:
    """The sensor, requesting `job` (the whole cohort chain) for each complete drop that is not
    loaded yet. Running by default: a drop into a running `dagster dev` loads with no click."""

    @dg.sensor(
        name=SENSOR_NAME,
        job=job,
        minimum_interval_seconds=minimum_interval_seconds,
        default_status=default_status,
        description=(
            "Requests the whole chain for a cohort when its drop in ENERGYMOBILE_LANDING is "
            "complete: every file of its format present ("
            + " or ".join(f.summary for f in FORMATS)
            + f") and unchanged for {settle_seconds:.0f} s, or a _SUCCESS marker; unless "
            "that delivery is already archived and loaded (by the CLI, the UI or this sensor). "
            "Reloads a cohort whose archive holds a delivery the warehouse does not (a run "
            "killed half-way). Run key = cohort + fingerprint of the files."
        ),
    )
    def landing_sensor(
        context: dg.SensorEvaluationContext,
        landing: LandingResource,
        object_store: ObjectStoreResource,
        warehouse: WarehouseResource,
    ) -> dg.SensorResult:
        source = landing.open()
        found = source.rig_folders()
        rigs = found.rigs or [DEFAULT_RIG]  # an empty landing: reported as the default rig's
        cursors = load_cursors(context.cursor)
        records = StoredRecords(source, object_store, warehouse, lambda: context.instance)
        now = clock()
        scans: dict[Rig, LandingScan] = {}
        for rig in rigs:
            view = RigView(source, rig)
            scans[rig] = scan_landing(
                view,
                cursors.get(rig, LandingCursor()),
                now,
                records=records.for_rig(view, rig),
                settle_seconds=settle_seconds,
                stalled_after_seconds=stalled_after_seconds,
            )
        new_ignored = sorted(
            set(found.ignored) - set(cursors.get(DEFAULT_RIG, LandingCursor()).ignored)
        )
        for path in new_ignored:
            context.log.warning(
                f"ignored landing folder {source.describe_path(path)}: {found.ignored[path]}"
            )
        if found.ignored and DEFAULT_RIG in scans:
            scans[DEFAULT_RIG].cursor.ignored = sorted(
                set(scans[DEFAULT_RIG].cursor.ignored) | set(found.ignored)
            )
        for scan in scans.values():
            for warning in scan.warnings:
                context.log.warning(warning)
        requests = site_requests(scans, context.log)
        # The sites requested, added to the site partitions first (Dagster processes these
        # before the run requests and skips a site already there).
        sites = sorted({str(r.partition_key).split("|")[1] for r in requests})
        skip = None if requests else skip_reason(source.describe(), merged(scans))
        return dg.SensorResult(
            run_requests=requests,
            skip_reason=skip,
            cursor=dump_cursors({rig: scan.cursor for rig, scan in scans.items()}),
            dynamic_partitions_requests=(
                [site_partitions.build_add_request(sites)] if sites else None
            ),
        )

    return landing_sensor


def site_requests(
    scans: Mapping[Rig, LandingScan], log: dg.DagsterLogManager
) -> list[dg.RunRequest]:
    """One run request per (cohort, site) with a drop of any of its rigs. The run key joins
    the rigs' drops (the default rig's alone: its drop's run key, as before the fleet)."""
    by_partition: dict[tuple[str, str], list[tuple[Rig, CohortDrop]]] = {}
    for rig, scan in scans.items():
        for drop in scan.drops:
            by_partition.setdefault((drop.key, rig.site), []).append((rig, drop))
            log.info(
                f"requesting {drop.key} of rig {rig} ({drop.reason}): {drop.format}, "
                f"{drop.files} files, {drop.bytes:,} bytes, fingerprint {drop.fingerprint}"
                + (" (_SUCCESS)" if drop.marker else "")
            )
    requests = []
    for (key, site), drops in sorted(by_partition.items()):
        parts = [d.run_key if r == DEFAULT_RIG else f"{r.name}/{d.run_key}" for r, d in drops]
        requests.append(
            dg.RunRequest(
                run_key=";".join(sorted(parts)),
                partition_key=partition_key(key, site),
                tags={
                    FINGERPRINT_TAG: ";".join(d.fingerprint for _, d in drops),
                    TRIGGER_TAG: SENSOR_NAME,
                    FORMAT_TAG: ";".join(sorted({d.format for _, d in drops})),
                    REASON_TAG: ";".join(sorted({d.reason for _, d in drops})),
                },
            )
        )
    return requests


def load_cursors(text: str | None) -> dict[Rig, LandingCursor]:
    """Each rig's cursor: a single-rig landing's cursor is the default rig's, as before the
    fleet (so an upgrade keeps it); a fleet's is `{"fleet": {"<site>/<rig>": cursor}}`."""
    try:
        data = json.loads(text) if text else {}
    except ValueError:
        return {}
    if not isinstance(data, dict) or "fleet" not in data:
        return {DEFAULT_RIG: LandingCursor.from_json(text)}
    cursors = {}
    for name, cursor in data["fleet"].items():
        site, _, rig = str(name).partition("/")
        try:
            cursors[Rig(site, rig)] = LandingCursor.from_json(json.dumps(cursor))
        except ValueError:
            continue
    return cursors


def dump_cursors(cursors: Mapping[Rig, LandingCursor]) -> str:
    if set(cursors) == {DEFAULT_RIG}:
        return cursors[DEFAULT_RIG].to_json()
    return json.dumps(
        {"fleet": {str(rig): json.loads(c.to_json()) for rig, c in sorted(cursors.items())}},
        separators=(",", ":"),
    )


def merged(scans: Mapping[Rig, LandingScan]) -> LandingScan:
    """The rigs' scans as one, for the skip reason (notes name the rig, but the default's)."""
    notes = [
        note if rig == DEFAULT_RIG else f"rig {rig}: {note}"
        for rig, scan in scans.items()
        for note in scan.notes
    ]
    return LandingScan(
        drops=[d for scan in scans.values() for d in scan.drops],
        notes=notes,
        warnings=[],
        cursor=LandingCursor(),
        up_to_date=sum(scan.up_to_date for scan in scans.values()),
    )


def skip_reason(where: str, scan: LandingScan) -> str:
    """Why nothing was requested, folder by folder: never silence."""
    head = f"No new or changed complete drop in {where} ({scan.up_to_date} cohorts up to date)."
    return " ".join([head, *(f"[{note}]" for note in scan.notes)])
