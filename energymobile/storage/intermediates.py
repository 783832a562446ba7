"""Where the values passed between steps live: pickles in an object store, one object per asset
and cohort (`<asset>/<cohort>`), each written whole.

`raw_logs` → `hourly_readings` → `profile_merged` → `mysql_tables` hand each other small values
(a delivery's receipts and per-cycle reductions, frames of one row per cycle) through Dagster's
default IO manager, this one. energymobile/definitions.py gives it its store, per deployment:
with an S3 object store, `<prefix>/intermediate/` in the same bucket, so a run on any host (a
process, container or pod per run) reads what an earlier run wrote; on the embedded default,
`$ENERGYMOBILE_HOME/intermediate/` on the local disk (the layout of Dagster's
`FilesystemIOManager` there, so values it wrote still load).

Why not dagster-aws' `S3PickleIOManager` and Dagster's `FilesystemIOManager`: the first fails
with botocore's bare errors (a missing bucket is `NoSuchBucket ... ListObjects`, where our S3
store names the bucket, the endpoint and the setting to fix, tested in test_pipeline_s3.py); the
second writes a pickle in place, so a second run of the same cohort (two CLI backfills: the
one-run-per-cohort limit of dagster.yaml applies to queued runs only) can read half a file,
`EOFError: Ran out of input` (issue 15). Through the `ObjectStore` every write replaces its
object whole (a PUT in S3; a temporary file renamed over the target on disk), and one class
serves both deployments.
"""

from __future__ import annotations

import pickle
from typing import Any

import dagster as dg

from energymobile.storage.object_store import ObjectStore
from energymobile.storage.resources import ObjectStoreResource

PICKLE_PROTOCOL = pickle.HIGHEST_PROTOCOL


def value_key(asset_key: dg.AssetKey, partition: str | None) -> str:
    """`<asset path>/<cohort>/<site>` for a (cohort, site) partition (its key's `|` made a
    folder level), `<asset path>/<cohort>` for a cohort, `<asset path>` if unpartitioned."""
    parts = [*asset_key.path, *(partition.split("|") if partition is not None else [])]
    return "/".join(parts)


def write_value(store: ObjectStore, key: str, obj: Any) -> str:
    """Pickle `obj` to `key`, replacing any previous value whole; returns its URI."""
    return store.put_bytes(key, pickle.dumps(obj, protocol=PICKLE_PROTOCOL)).uri


def read_value(store: ObjectStore, key: str) -> Any:
    return pickle.loads(store.get_bytes(key))


class IntermediatesIOManager(dg.ConfigurableIOManager):
    """The default IO manager: values between steps, pickled into `store` (see the module)."""

    store: ObjectStoreResource

    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        key = value_key(context.asset_key, _single_partition(context))
        uri = write_value(self.store.open(), key, obj)
        context.add_output_metadata({"path": dg.MetadataValue.path(uri)})

    def load_input(self, context: dg.InputContext) -> Any:
        store = self.store.open()
        if not context.has_asset_partitions:
            return read_value(store, value_key(context.asset_key, None))
        keys = context.asset_partition_keys
        values = {k: read_value(store, value_key(context.asset_key, k)) for k in keys}
        return values[keys[0]] if len(keys) == 1 else values


def _single_partition(context: dg.OutputContext) -> str | None:
    """The cohort an output is for; a value spanning cohorts would have no single place."""
    if not context.has_asset_partitions:
        return None
    keys = context.asset_partition_keys
    if len(keys) != 1:
        raise ValueError(f"one cohort at a time, not {len(keys)} ({keys[0]} … {keys[-1]})")
    return keys[0]
