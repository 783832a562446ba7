"""The asset raw_archive: every accepted delivery, in the object store under `raw/cohort=<key>/`
(the default rig's, where the single-rig installation always had it) or, for any other rig,
`raw/site=<site>/cohort=<key>/rig=<rig>/` (a site's rigs of a cohort are one listing).

raw_logs compresses each file as it parses it (`ArchiveSpool`) and hands the result on as
raw_archive's value (`CompressedDelivery`) only when the delivery passes every rule; the
ArchiveIOManager then writes it with `archive_delivery`:

- `delivery=<id>/<file>.zst`: the delivered files, byte-exact after decompression, each with
  the original's SHA-256, size and rows as object metadata. `<id>` is derived from the files'
  SHA-256s, so the same delivery always lands in the same folder (a re-run rewrites the same
  bytes) and another delivery never overwrites it.
- `manifest.json`: the receipts, which object holds each delivered file and how many bytes
  were written to it. Written last, it is the one object saying which delivery is current;
  switching it is a single PUT, so a reader sees the previous delivery or the new one, never a
  mix of both, even when the process dies half-way through archiving.

Nothing is deleted (the pipeline's S3 policy grants no delete): earlier deliveries stay in
their folders, a record of what was received and when it was replaced. Archives written
before delivery folders existed (files directly under the cohort's prefix, a manifest without
`objects`) are still read.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import zstandard

from energymobile.channels import PROFILE_FILE_NAME
from energymobile.ingest.formats import delivered_files
from energymobile.ingest.reduce import FileReceipt
from energymobile.rigs import DEFAULT_RIG, Rig
from energymobile.storage.landing import logs_dir
from energymobile.storage.object_store import ObjectStore, StoredObject

ARCHIVE_PREFIX = "raw"
MANIFEST_NAME = "manifest.json"
ZSTD_LEVEL = 1
"""Level 1: the best ratio of levels -5..3 here (0.235 on a 100 Hz file) at ~290 MB/s."""
DELIVERY_ID_HEX = 16


class ArchiveMissing(FileNotFoundError):
    """The cohort has no archive: raw_logs never accepted a delivery of it."""


def compress(data: bytes) -> bytes:
    return zstandard.ZstdCompressor(level=ZSTD_LEVEL).compress(data)


def decompress(data: bytes) -> bytes:
    return zstandard.ZstdDecompressor().decompress(data)


class ArchiveSpool:
    """Compresses each validated file on a second thread while the next one parses (`add` is
    read_delivery's `on_valid`). zstd and the parser both release the GIL, so the archive
    costs little wall time on top of the parse, and the landing is read once."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="zstd")
        self._pending: dict[str, Future[bytes]] = {}

    def add(self, name: str, data: bytes) -> None:
        self._pending[name] = self._pool.submit(compress, data)

    def collect(self) -> dict[str, bytes]:
        """Every added file, compressed (waits for the last ones)."""
        return {name: future.result() for name, future in self._pending.items()}

    def __enter__(self) -> ArchiveSpool:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


@dataclass(frozen=True)
class CompressedDelivery:
    """raw_archive's value: a delivery that passed every rule, its files compressed."""

    key: str
    receipts: tuple[FileReceipt, ...]
    compressed: Mapping[str, bytes] = field(repr=False)
    """Delivered file name -> its zstd bytes."""
    landing_fingerprint: str | None = None
    """The landing listing the files were read from (energymobile.provenance), recorded in the
    manifest so the landing sensor knows that drop is archived without reading it again."""
    rig: Rig = DEFAULT_RIG

    @property
    def delivery(self) -> str:
        return delivery_id(self.receipts)


def archive_prefix(key: str, rig: Rig = DEFAULT_RIG) -> str:
    """Where a rig's deliveries of a cohort are archived."""
    if rig == DEFAULT_RIG:
        return f"{ARCHIVE_PREFIX}/cohort={key}/"
    return f"{site_archive_prefix(key, rig.site)}rig={rig.name}/"


def site_archive_prefix(key: str, site: str) -> str:
    """Where the archives of a site's rigs (the default rig's aside) of a cohort are."""
    return f"{ARCHIVE_PREFIX}/site={site}/cohort={key}/"


def manifest_key(key: str, rig: Rig = DEFAULT_RIG) -> str:
    return f"{archive_prefix(key, rig)}{MANIFEST_NAME}"


def archived_rigs(store: ObjectStore, key: str, site: str) -> list[Rig]:
    """The rigs of a site with an archive of the cohort (a manifest), by name."""
    rigs = [DEFAULT_RIG] if DEFAULT_RIG.site == site and store.exists(manifest_key(key)) else []
    prefix = site_archive_prefix(key, site)
    for object_key in store.list_keys(prefix):
        rig_folder, _, rest = object_key[len(prefix) :].partition("/")
        if rest == MANIFEST_NAME and rig_folder.startswith("rig="):
            rigs.append(Rig(site, rig_folder.removeprefix("rig=")))
    return sorted(rigs)


def delivery_id(receipts: Sequence[FileReceipt]) -> str:
    """A short digest of what was delivered (each receipt's name, size and SHA-256)."""
    lines = sorted(f"{r.name} {r.bytes} {r.sha256}" for r in receipts)
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()[:DELIVERY_ID_HEX]


def archive_key(key: str, name: str, delivery: str, rig: Rig = DEFAULT_RIG) -> str:
    return f"{archive_prefix(key, rig)}delivery={delivery}/{name}.zst"


def _legacy_archive_key(key: str, name: str) -> str:
    return f"{archive_prefix(key)}{name}.zst"


def archive_delivery(
    store: ObjectStore,
    key: str,
    compressed: Mapping[str, bytes],
    receipts: Sequence[FileReceipt],
    *,
    landing_fingerprint: str | None = None,
    rig: Rig = DEFAULT_RIG,
) -> list[StoredObject]:
    """Store the compressed delivered files in the delivery's own folder, each with the
    original's checksum as metadata, then the manifest that makes them the current archive
    (and names the landing listing they were read from, when known)."""
    files = delivered_files(receipts)
    delivery = delivery_id(receipts)
    objects = {name: archive_key(key, name, delivery, rig) for name in compressed}
    stored = [
        store.put_bytes(
            objects[name],
            data,
            rows=files[name].rows if name in files else None,
            metadata=_source_metadata(files.get(name)),
        )
        for name, data in compressed.items()
    ]
    manifest = {
        "cohort": key,
        "site": rig.site,
        "rig": rig.name,
        "delivery": delivery,
        "objects": objects,
        "stored_bytes": {name: len(data) for name, data in compressed.items()},
        "files": [r.__dict__ for r in receipts],
        "landing_fingerprint": landing_fingerprint,
    }
    manifest_bytes = json.dumps(manifest, indent=2).encode()
    stored.append(store.put_bytes(manifest_key(key, rig), manifest_bytes))
    return stored


def _source_metadata(receipt: FileReceipt | None) -> dict[str, str]:
    if receipt is None:
        return {}
    return {"source-sha256": receipt.sha256, "source-bytes": str(receipt.bytes)}


@dataclass(frozen=True)
class Archive:
    """The cohort's current archived delivery, as its manifest describes it."""

    key: str
    delivery: str
    receipts: tuple[FileReceipt, ...]
    objects: dict[str, str]
    """Delivered file name -> the object holding it (zstd)."""
    stored_bytes: dict[str, int] = field(default_factory=dict)
    """Delivered file name -> bytes written to its object (not recorded by older archives)."""
    landing_fingerprint: str | None = None
    """The landing listing the delivery was read from (None: not recorded, older archives)."""
    rig: Rig = DEFAULT_RIG

    def read(self, store: ObjectStore, name: str) -> bytes:
        """A delivered file's original bytes."""
        return decompress(store.get_bytes(self.objects[name]))


def read_archive(store: ObjectStore, key: str, rig: Rig = DEFAULT_RIG) -> Archive:
    """The rig's current archive of the cohort; ArchiveMissing if raw_logs never archived one."""
    manifest_at = manifest_key(key, rig)
    if not store.exists(manifest_at):
        of = "" if rig == DEFAULT_RIG else f" of rig {rig}"
        raise ArchiveMissing(
            f"cohort {key}{of} has no archive ({manifest_at} is missing): raw_logs archives a "
            "delivery only once it passes every rule; materialize raw_logs for this cohort first"
        )
    manifest = json.loads(store.get_bytes(manifest_at))
    receipts = tuple(FileReceipt(**entry) for entry in manifest["files"])
    objects = manifest.get("objects") or {
        name: _legacy_archive_key(key, name) for name in delivered_files(receipts)
    }
    stored_bytes = {name: int(n) for name, n in manifest.get("stored_bytes", {}).items()}
    return Archive(
        key,
        manifest.get("delivery", "legacy"),
        receipts,
        dict(objects),
        stored_bytes,
        manifest.get("landing_fingerprint"),
        rig,
    )


def restore_delivery(
    store: ObjectStore, key: str, landing: Path, rig: Rig = DEFAULT_RIG
) -> list[Path]:
    """Write the cohort's current archived delivery back into a landing folder as delivered
    (`<landing>/logs/<key>/…`, `<landing>/profile/profile.txt`), each file checked against the
    SHA-256 recorded when it was received; returns the files written.

    How a cohort is re-derived without its original drop: restore it, then load it from there
    (`ENERGYMOBILE_LANDING=<landing> energymobile backfill --from <key> --to <key>`), e.g. a
    cohort loaded before warehouse revision 005, which holds one statistic only."""
    archive = read_archive(store, key, rig)
    written = []
    for name, receipt in delivered_files(archive.receipts).items():
        data = archive.read(store, name)
        if hashlib.sha256(data).hexdigest() != receipt.sha256:
            raise ValueError(
                f"{archive.objects[name]} does not decompress to the {name} received for cohort "
                f"{key} (SHA-256 differs): not restored"
            )
        folder = landing / "profile" if name == PROFILE_FILE_NAME else landing / logs_dir(rig) / key
        folder.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
        written.append(folder / name)
    return written


def main(argv: Sequence[str] | None = None) -> None:
    """`python -m energymobile.storage.archive restore COHORT LANDING`: restore_delivery from
    the object store of the environment (ENERGYMOBILE_OBJECT_STORE)."""
    import argparse

    from energymobile.settings import Settings
    from energymobile.storage.object_store import open_object_store

    parser = argparse.ArgumentParser(prog="python -m energymobile.storage.archive")
    commands = parser.add_subparsers(dest="command", required=True)
    restore = commands.add_parser("restore", help="write a cohort's archived delivery to a folder")
    restore.add_argument("cohort")
    restore.add_argument("landing", type=Path)
    args = parser.parse_args(argv)
    store = open_object_store(Settings.from_env().object_store)
    for path in restore_delivery(store, args.cohort, args.landing):
        print(path)


if __name__ == "__main__":
    main()
