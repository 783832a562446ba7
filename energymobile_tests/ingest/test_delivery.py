import hashlib

import numpy as np
import pytest

from energymobile.channels import CHANNELS
from energymobile.ingest.delivery import read_delivery
from energymobile.ingest.errors import InputError
from energymobile.sample.generate import generate_cohort
from energymobile.sample.real import real_bytes

pytestmark = pytest.mark.integration


def _read(folder):
    return dict(
        available={p.name for p in folder.iterdir()},
        read=lambda name: (folder / name).read_bytes(),
        read_profile_bytes=lambda: real_bytes("profile.txt"),
    )


def test_a_generated_delivery_reads_whole(tmp_path):
    folder = generate_cohort(tmp_path, "2008-03-26", cycles=5)
    archived = []
    delivery = read_delivery(
        "2008-03-26", **_read(folder), on_valid=lambda name, data: archived.append(name)
    )
    assert len(delivery.receipts) == 18
    assert {r.rows for r in delivery.channel_receipts} == {5}
    assert delivery.profile.shape == (2205, 5)
    assert len(archived) == 18


def test_missing_files_are_all_named(tmp_path):
    folder = generate_cohort(tmp_path, "2008-03-26", cycles=5)
    (folder / "FS2.txt").unlink()
    (folder / "VS1.txt").unlink()
    with pytest.raises(
        InputError,
        match=r"logs/2008-03-26/FS2.txt: missing: .* 2 of 17 .*"
        r"\(FS2.txt, VS1.txt\)",
    ):
        read_delivery("2008-03-26", **_read(folder))


def test_nothing_reaches_the_archive_after_a_bad_file(tmp_path):
    folder = generate_cohort(tmp_path, "2008-03-26", cycles=5)
    (folder / "PS3.txt").write_bytes(b"1\t2\n")
    archived = []
    with pytest.raises(InputError, match=r"PS3\.txt:1:3"):
        read_delivery("2008-03-26", **_read(folder), on_valid=lambda n, d: archived.append(n))
    assert "PS3.txt" not in archived


def test_folder_name_must_be_a_cohort_key(tmp_path):
    folder = generate_cohort(tmp_path, "2008-03-26", cycles=5)
    with pytest.raises(ValueError, match="not a cohort start"):
        read_delivery("2008-04-26", **_read(folder))


# ---------------------------------------------------------------------------------------------
# Delivery formats (docs/formats.md): the same cohort as TSV, CSV or JSON Lines
# ---------------------------------------------------------------------------------------------

FORMATS = ("tsv", "csv", "jsonl")


def _read_all(folder, **callbacks):
    """read_delivery on a folder, with the bytes handed to on_valid and the samples."""
    valid: dict[str, bytes] = {}
    tables: list[tuple[str, np.ndarray]] = []
    delivery = read_delivery(
        "2008-03-26",
        **_read(folder),
        on_valid=lambda name, data: valid.__setitem__(name, data),
        on_table=lambda channel, table: tables.append((channel.code, table)),
        **callbacks,
    )
    return delivery, valid, tables


def test_every_format_gives_the_same_delivery(tmp_path):
    read = {
        fmt: _read_all(
            generate_cohort(tmp_path / fmt, "2008-03-26", cycles=6, seed=2, delivery_format=fmt)
        )
        for fmt in FORMATS
    }
    tsv, _, tsv_tables = read["tsv"]
    for fmt, (delivery, _, tables) in read.items():
        assert delivery.format == fmt
        assert [(r.rows, r.columns) for r in delivery.receipts] == [
            (r.rows, r.columns) for r in tsv.receipts
        ]
        for code, cycles in tsv.cycles.items():
            np.testing.assert_array_equal(delivery.cycles[code].mean, cycles.mean, err_msg=code)
            np.testing.assert_array_equal(delivery.cycles[code].first, cycles.first, err_msg=code)
        np.testing.assert_array_equal(delivery.profile, tsv.profile)
        assert [code for code, _ in tables] == [c.code for c in CHANNELS]
        for (code, table), (_, expected) in zip(tables, tsv_tables, strict=True):
            assert table.dtype == np.float64 and table.flags.c_contiguous
            np.testing.assert_array_equal(table, expected, err_msg=f"{fmt} {code}")


@pytest.mark.parametrize("fmt", FORMATS)
def test_receipts_and_archive_spool_refer_to_the_delivered_files(tmp_path, fmt):
    folder = generate_cohort(tmp_path, "2008-03-26", cycles=4, delivery_format=fmt)
    delivery, valid, _ = _read_all(folder)
    delivered = {p.name: p.read_bytes() for p in folder.iterdir()}
    assert valid == delivered | {"profile.txt": real_bytes("profile.txt")}  # byte-exact, once
    assert list(delivery.delivered_files) == [*delivered_order(fmt), "profile.txt"]
    for receipt in delivery.channel_receipts:
        data = delivered[receipt.name.partition("#")[0]]
        assert (receipt.bytes, receipt.sha256) == (len(data), hashlib.sha256(data).hexdigest())
    assert delivery.total_bytes == sum(len(d) for d in valid.values())
    names = [r.name for r in delivery.channel_receipts]
    assert (
        names
        == {
            "tsv": [c.file_name for c in CHANNELS],
            "csv": [f"{c.code}.csv" for c in CHANNELS],
            "jsonl": [f"cycles.jsonl#{c.code}" for c in CHANNELS],
        }[fmt]
    )


def delivered_order(fmt: str) -> list[str]:
    if fmt == "jsonl":
        return ["cycles.jsonl"]
    return [f"{c.code}.{'txt' if fmt == 'tsv' else 'csv'}" for c in CHANNELS]


def test_an_archive_listing_reads_like_the_landing(tmp_path):
    """The export reads the archive: its listing holds the profile and the manifest too."""
    folder = generate_cohort(tmp_path, "2008-03-26", cycles=3, delivery_format="jsonl")
    delivery = read_delivery(
        "2008-03-26",
        available={"cycles.jsonl", "profile.txt", "manifest.json"},
        read=lambda name: (folder / name).read_bytes(),
        read_profile_bytes=lambda: real_bytes("profile.txt"),
    )
    assert delivery.format == "jsonl" and len(delivery.receipts) == 18


def test_a_missing_csv_file_is_named(tmp_path):
    folder = generate_cohort(tmp_path, "2008-03-26", cycles=3, delivery_format="csv")
    (folder / "TS4.csv").unlink()
    with pytest.raises(InputError, match=r"logs/2008-03-26/TS4\.csv: missing: .* 1 of 17 "):
        read_delivery("2008-03-26", **_read(folder))


def test_a_folder_mixing_formats_is_rejected_before_any_file_is_read(tmp_path):
    folder = generate_cohort(tmp_path, "2008-03-26", cycles=3)
    (folder / "cycles.jsonl").write_bytes(b"{}\n")
    opened = []
    with pytest.raises(InputError, match=r"^logs/2008-03-26/: mixes delivery formats: 17 tsv"):
        read_delivery(
            "2008-03-26",
            available={p.name for p in folder.iterdir()},
            read=opened.append,
            read_profile_bytes=lambda: b"",
        )
    assert opened == []


def test_nothing_of_a_bad_jsonl_reaches_the_archive(tmp_path):
    folder = generate_cohort(tmp_path, "2008-03-26", cycles=3, delivery_format="jsonl")
    path = folder / "cycles.jsonl"
    path.write_bytes(path.read_bytes().replace(b'"cycle":2', b'"cycle":1'))
    archived = []
    with pytest.raises(InputError, match=r"cycles\.jsonl:3:cycle: cycle 1 again"):
        read_delivery("2008-03-26", **_read(folder), on_valid=lambda n, d: archived.append(n))
    assert archived == []
