import hashlib

import numpy as np
import pytest

from energymobile.channels import CHANNELS
from energymobile.ingest.delivery import read_delivery
from energymobile.ingest.errors import InputError
from energymobile.ingest.reduce import read_profile
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


# ---------------------------------------------------------------------------------------------
# Space-separated files, the profile's values as written (issue 15)
# ---------------------------------------------------------------------------------------------


def _spaced(path) -> None:
    """The file with its values separated by spaces: single ones on even lines, aligned
    columns with CRLF on odd ones."""
    lines = path.read_bytes().splitlines()
    spaced = [
        b" ".join(line.split(b"\t"))
        if n % 2 == 0
        else b" ".join(v.rjust(9) for v in line.split(b"\t")) + b"\r"
        for n, line in enumerate(lines)
    ]
    path.write_bytes(b"\n".join(spaced) + b"\n")


def test_a_space_separated_delivery_reads_as_the_tab_separated_one(tmp_path):
    tabs = generate_cohort(tmp_path / "tabs", "2008-03-26", cycles=4, seed=3)
    spaces = generate_cohort(tmp_path / "spaces", "2008-03-26", cycles=4, seed=3)
    for path in spaces.iterdir():
        _spaced(path)
    expected, _, expected_tables = _read_all(tabs)
    got, _, tables = _read_all(spaces)
    for code, cycles in expected.cycles.items():
        np.testing.assert_array_equal(got.cycles[code].mean, cycles.mean, err_msg=code)
        np.testing.assert_array_equal(got.cycles[code].first, cycles.first, err_msg=code)
    for (code, table), (_, want) in zip(tables, expected_tables, strict=True):
        np.testing.assert_array_equal(table, want, err_msg=code)
    assert [r.rows for r in got.receipts] == [r.rows for r in expected.receipts]


def _profile_with(line: int, column: int, value: bytes) -> bytes:
    lines = real_bytes("profile.txt").split(b"\n")
    fields = lines[line - 1].split(b"\t")
    fields[column - 1] = value
    lines[line - 1] = b"\t".join(fields)
    return b"\n".join(lines)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (b"99999999999999999999", "'99999999999999999999' is beyond the range of a condition code"),
        (b"-9223372036854775809", "'-9223372036854775809' is beyond the range"),
        (b"1e300", "'1e300' is beyond the range"),
        (b"2.5", "'2.5' is not a whole number"),
    ],
)
def test_a_profile_code_that_is_no_code_is_reported_as_written(tmp_path, value, reason):
    """Before: a code beyond int64 was reported as -9223372036854775808, a fraction as
    np.float64(2.5)."""
    folder = generate_cohort(tmp_path, "2008-03-26", cycles=3)
    with pytest.raises(InputError) as caught:
        read_delivery(
            "2008-03-26",
            available={p.name for p in folder.iterdir()},
            read=lambda name: (folder / name).read_bytes(),
            read_profile_bytes=lambda: _profile_with(2, 3, value),
        )
    assert str(caught.value) == f"profile/profile.txt:2:3: {caught.value.reason}"
    assert caught.value.reason.startswith(reason)


def test_a_missing_profile_is_an_input_error_naming_it(tmp_path):
    folder = generate_cohort(tmp_path, "2008-03-26", cycles=3)

    def no_profile() -> bytes:
        raise FileNotFoundError(2, "No such file or directory", "/abs/landing/profile/profile.txt")

    with pytest.raises(InputError, match=r"^profile/profile\.txt: missing: ") as caught:
        read_delivery(
            "2008-03-26",
            available={p.name for p in folder.iterdir()},
            read=lambda name: (folder / name).read_bytes(),
            read_profile_bytes=no_profile,
        )
    assert "/abs/" not in str(caught.value)


def test_a_space_separated_profile_reads_as_the_tab_separated_one():
    tabs = real_bytes("profile.txt")
    spaces = tabs.replace(b"\t", b"   ")
    _, expected = read_profile(tabs)
    _, got = read_profile(spaces)
    np.testing.assert_array_equal(got, expected)
    assert got.shape == (2205, 5)
