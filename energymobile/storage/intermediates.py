"""Where the values passed between steps live on the embedded default: pickles on the local
disk, each written atomically.

`raw_logs` → `hourly_readings` → `profile_merged` → `mysql_tables` hand each other small values
(a delivery's receipts and reductions, frames of one row per cycle) through Dagster's default
IO manager. With an S3 object store they go to S3 beside the exports (dagster-aws'
`S3PickleIOManager`, chosen in energymobile/definitions.py), so a run on any host reads what an
earlier run wrote. Here, on one host, they go under `$ENERGYMOBILE_HOME/intermediate/<asset>/
<cohort>` (the layout of Dagster's `FilesystemIOManager`, so values it wrote still load).

Unlike `FilesystemIOManager`, which writes a pickle in place, each value is written to a
temporary file beside its path and renamed over it: two runs of one cohort at once (two CLI
backfills: dagster.yaml's one-run-per-cohort limit applies to queued runs only) each read a
whole value, the old one or the new one, never half a file (issue 15: `EOFError: Ran out of
input`).
"""

from __future__ import annotations

import os
import pickle
import tempfile
from pathlib import Path
from typing import Any

import dagster as dg
from pydantic import Field
from upath import UPath


class AtomicPickleIOManager(dg.UPathIOManager):
    """Pickles under `base_dir`, one file per asset and partition, replaced whole."""

    def __init__(self, base_dir: str) -> None:
        super().__init__(base_path=UPath(base_dir))

    def dump_to_path(self, context: dg.OutputContext, obj: Any, path: UPath) -> None:
        target = Path(path)
        fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
        try:
            with os.fdopen(fd, "wb") as handle:
                pickle.dump(obj, handle, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    def load_from_path(self, context: dg.InputContext, path: UPath) -> Any:
        with Path(path).open("rb") as handle:
            return pickle.load(handle)


class LocalIntermediatesIOManager(dg.ConfigurableIOManagerFactory):
    """The embedded default's IO manager for values between steps (see the module's doc)."""

    base_dir: str = Field(description="Folder of the pickles ($ENERGYMOBILE_HOME/intermediate)")

    def create_io_manager(self, context: dg.InitResourceContext) -> AtomicPickleIOManager:
        return AtomicPickleIOManager(self.base_dir)
