"""Values between steps: a reader never sees half a value while another run of the same cohort
writes it (issue 15's `EOFError: Ran out of input`), and values stay where Dagster's
FilesystemIOManager kept them on the embedded default."""

from __future__ import annotations

import pickle
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from upath import UPath

from energymobile.storage.intermediates import IntermediatesIOManager, read_value, write_value
from energymobile.storage.object_store import LocalObjectStore
from energymobile.storage.resources import ObjectStoreResource

pytestmark = pytest.mark.unit

KEY = "2008-03-26"
VALUE = {"rows": [bytes([n % 251]) * 65_536 for n in range(256)]}
"""16 MB of pickle, written frame by frame: long enough for a reader to meet it half done."""
ROUNDS = 8


def _output(asset: str) -> dg.OutputContext:
    return dg.build_output_context(asset_key=dg.AssetKey(asset), partition_key=KEY)


def _input(asset: str) -> dg.InputContext:
    return dg.build_input_context(asset_key=dg.AssetKey(asset), partition_key=KEY)


def _torn_reads(write: Callable[[], None], read: Callable[[], Any]) -> int:
    """Write the value ROUNDS times in one thread while this one reads it back, as two runs of
    one cohort do; the number of reads that found a partial pickle (or anything but the value)."""
    write()
    done = threading.Event()

    def rewrite() -> None:
        for _ in range(ROUNDS):
            write()
        done.set()

    writer = threading.Thread(target=rewrite)
    writer.start()
    torn = 0
    while not done.is_set():
        try:
            if read() != VALUE:
                torn += 1
        except (EOFError, pickle.UnpicklingError):
            torn += 1
    writer.join()
    return torn


def test_a_reader_never_sees_a_value_half_written_where_dagsters_filesystem_manager_does(
    tmp_path: Path,
):
    # The race against Dagster's FilesystemIOManager, which writes the pickle in place: what
    # two CLI runs of one cohort hit.
    in_place = dg.FilesystemIOManager(base_dir=str(tmp_path / "in_place")).create_io_manager(
        dg.build_init_resource_context()
    )
    path = UPath(tmp_path / "in_place" / "hourly_readings" / KEY)
    path.parent.mkdir(parents=True)
    output, input_ = _output("hourly_readings"), _input("hourly_readings")
    assert (
        _torn_reads(
            lambda: in_place.dump_to_path(output, VALUE, path),
            lambda: in_place.load_from_path(input_, path),
        )
        > 0
    )
    store = LocalObjectStore(tmp_path / "whole")
    key = f"hourly_readings/{KEY}"
    assert _torn_reads(lambda: write_value(store, key, VALUE), lambda: read_value(store, key)) == 0


def test_values_are_stored_where_dagsters_filesystem_manager_stored_them(tmp_path: Path):
    """Same layout (<base>/<asset>/<cohort>, a pickle), so an existing home's values load."""
    old = dg.FilesystemIOManager(base_dir=str(tmp_path)).create_io_manager(
        dg.build_init_resource_context()
    )
    old.handle_output(_output("raw_logs"), {"written": "before"})
    new = IntermediatesIOManager(store=ObjectStoreResource(url=str(tmp_path)))
    assert new.load_input(_input("raw_logs")) == {"written": "before"}
    new.handle_output(_output("raw_logs"), {"written": "after"})
    assert pickle.loads((tmp_path / "raw_logs" / KEY).read_bytes()) == {"written": "after"}
    assert [p.name for p in (tmp_path / "raw_logs").iterdir()] == [KEY]  # no temporary left


def test_an_unpartitioned_value_is_stored_under_its_asset_and_loads_back(tmp_path: Path):
    manager = IntermediatesIOManager(store=ObjectStoreResource(url=str(tmp_path)))
    manager.handle_output(dg.build_output_context(asset_key=dg.AssetKey("combined")), [1, 2])
    assert pickle.loads((tmp_path / "combined").read_bytes()) == [1, 2]
    assert manager.load_input(dg.build_input_context(asset_key=dg.AssetKey("combined"))) == [1, 2]
