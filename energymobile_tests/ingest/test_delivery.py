import pytest

from energymobile.ingest.delivery import read_delivery
from energymobile.ingest.errors import InputError
from energymobile.sample.generate import generate_cohort
from energymobile.sample.real import real_bytes


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
