"""Values between steps on the embedded default: a reader never sees half a value while another
run of the same cohort writes it (issue 15's `EOFError: Ran out of input`)."""

from __future__ import annotations

import pickle
import threading
from pathlib import Path

import dagster as dg
import pytest
from upath import UPath

from energymobile.storage.intermediates import LocalIntermediatesIOManager

pytestmark = pytest.mark.unit

KEY = "2008-03-26"
VALUE = {"rows": [bytes([n % 251]) * 65_536 for n in range(256)]}
"""16 MB of pickle, written frame by frame: long enough for a reader to meet it half done."""
ROUNDS = 8


def _io_manager(factory: dg.ConfigurableIOManagerFactory) -> dg.IOManager:
    return factory.create_io_manager(dg.build_init_resource_context())


def _output(asset: str) -> dg.OutputContext:
    return dg.build_output_context(asset_key=dg.AssetKey(asset), partition_key=KEY)


def _input(asset: str) -> dg.InputContext:
    return dg.build_input_context(asset_key=dg.AssetKey(asset), partition_key=KEY)


def _torn_reads(factory: dg.ConfigurableIOManagerFactory, base_dir: Path) -> int:
    """Write the value ROUNDS times in one thread while another reads it back, as two runs of
    one cohort do; the number of reads that found a partial pickle (or anything but the value)."""
    manager = _io_manager(factory)
    assert isinstance(manager, dg.UPathIOManager)
    output, input_ = _output("hourly_readings"), _input("hourly_readings")
    manager.handle_output(output, VALUE)
    path = UPath(base_dir / "hourly_readings" / KEY)  # where both runs' steps meet
    assert path.is_file()
    done = threading.Event()
    torn = 0

    def write() -> None:
        for _ in range(ROUNDS):
            manager.dump_to_path(output, VALUE, path)
        done.set()

    writer = threading.Thread(target=write)
    writer.start()
    while not done.is_set():
        try:
            if manager.load_from_path(input_, path) != VALUE:
                torn += 1
        except (EOFError, pickle.UnpicklingError):
            torn += 1
    writer.join()
    return torn


def test_a_reader_never_sees_a_value_half_written_where_dagsters_filesystem_manager_does(
    tmp_path: Path,
):
    # The same race against Dagster's FilesystemIOManager, which writes in place: this is what
    # two CLI runs of one cohort hit.
    in_place, atomic = tmp_path / "in_place", tmp_path / "atomic"
    assert _torn_reads(dg.FilesystemIOManager(base_dir=str(in_place)), in_place) > 0
    assert _torn_reads(LocalIntermediatesIOManager(base_dir=str(atomic)), atomic) == 0


def test_values_are_stored_where_dagsters_filesystem_manager_stored_them(tmp_path: Path):
    """Same layout (<base>/<asset>/<cohort>, a pickle), so an existing home's values load."""
    old = _io_manager(dg.FilesystemIOManager(base_dir=str(tmp_path)))
    old.handle_output(_output("raw_logs"), {"written": "before"})
    new = _io_manager(LocalIntermediatesIOManager(base_dir=str(tmp_path)))
    assert new.load_input(_input("raw_logs")) == {"written": "before"}
    new.handle_output(_output("raw_logs"), {"written": "after"})
    assert pickle.loads((tmp_path / "raw_logs" / KEY).read_bytes()) == {"written": "after"}
    assert [p.name for p in (tmp_path / "raw_logs").iterdir()] == [KEY]  # no temporary left
