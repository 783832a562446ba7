"""Generated deliveries: deterministic, the documented shapes, anchored on the real data."""

import json

import numpy as np
import pytest

from energymobile.channels import CHANNELS
from energymobile.sample.generate import FORMAT_NAMES, generate_cohort
from energymobile.sample.real import real_bytes, template_first_samples

pytestmark = pytest.mark.integration


def _rows(path):
    return np.loadtxt(path, delimiter="\t", ndmin=2)


def test_same_call_gives_the_same_bytes(tmp_path):
    a = generate_cohort(tmp_path / "a", "2008-03-26", cycles=4)
    b = generate_cohort(tmp_path / "b", "2008-03-26", cycles=4)
    for channel in CHANNELS:
        assert (a / channel.file_name).read_bytes() == (b / channel.file_name).read_bytes()
    c = generate_cohort(tmp_path / "c", "2008-03-26", cycles=4, seed=7)
    assert (a / "PS1.txt").read_bytes() != (c / "PS1.txt").read_bytes()


def test_files_have_the_documented_shape_and_the_real_first_samples(tmp_path):
    folder = generate_cohort(tmp_path, "2008-06-26", cycles=6)
    firsts = template_first_samples()
    for channel in CHANNELS:
        rows = _rows(folder / channel.file_name)
        assert rows.shape == (6, channel.samples), channel.code
        np.testing.assert_array_equal(rows[:, 0], firsts[channel.code].to_numpy()[:6])


def test_one_hz_channels_are_the_real_rows(tmp_path):
    folder = generate_cohort(tmp_path, "2008-03-26", cycles=3)
    real = real_bytes("TS2.txt").splitlines(keepends=True)[:3]
    assert (folder / "TS2.txt").read_bytes() == b"".join(real)


def test_synthesized_cycles_follow_the_real_shape(tmp_path):
    folder = generate_cohort(tmp_path, "2008-03-26", cycles=2)
    ps2 = _rows(folder / "PS2.txt")
    real = np.loadtxt(real_bytes("PS2.first2cycles.txt").splitlines(), delimiter="\t")
    # same level and shape within a few percent (noise 0.2 %, blend of the two real cycles)
    assert abs(ps2.mean() - real.mean()) / real.mean() < 0.02
    assert np.corrcoef(ps2[0], real[0])[0, 1] > 0.95


# ---------------------------------------------------------------------------------------------
# Delivery formats: the same values as 17 CSV files or one JSON Lines file
# ---------------------------------------------------------------------------------------------


def _csv_rows(path):
    return np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2)


def test_every_format_holds_the_same_values(tmp_path):
    tsv = generate_cohort(tmp_path / "tsv", "2008-03-26", cycles=4, seed=3)
    csv = generate_cohort(tmp_path / "csv", "2008-03-26", cycles=4, seed=3, delivery_format="csv")
    jsonl = generate_cohort(
        tmp_path / "jsonl", "2008-03-26", cycles=4, seed=3, delivery_format="jsonl"
    )
    assert sorted(p.name for p in jsonl.iterdir()) == ["cycles.jsonl"]
    records = [json.loads(line) for line in (jsonl / "cycles.jsonl").read_bytes().splitlines()]
    assert [r["cycle"] for r in records] == [0, 1, 2, 3]
    for channel in CHANNELS:
        values = _rows(tsv / channel.file_name)
        header = (csv / f"{channel.code}.csv").read_bytes().split(b"\n", 1)[0].split(b",")
        assert header[0] == f"{channel.code}_1".encode() and len(header) == channel.samples
        np.testing.assert_array_equal(_csv_rows(csv / f"{channel.code}.csv"), values)
        np.testing.assert_array_equal(np.array([r[channel.code] for r in records]), values)


def test_same_call_gives_the_same_bytes_in_every_format(tmp_path):
    for fmt in FORMAT_NAMES:
        a = generate_cohort(tmp_path / f"a-{fmt}", "2008-03-26", cycles=3, delivery_format=fmt)
        b = generate_cohort(tmp_path / f"b-{fmt}", "2008-03-26", cycles=3, delivery_format=fmt)
        assert {p.name: p.read_bytes() for p in a.iterdir()} == {
            p.name: p.read_bytes() for p in b.iterdir()
        }


def test_a_delivery_in_another_format_replaces_the_old_files(tmp_path):
    folder = generate_cohort(tmp_path, "2008-03-26", cycles=2)
    (folder / "notes.md").write_text("kept: not a delivery file")
    generate_cohort(tmp_path, "2008-03-26", cycles=2, delivery_format="jsonl")
    assert sorted(p.name for p in folder.iterdir()) == ["cycles.jsonl", "notes.md"]
    generate_cohort(tmp_path, "2008-03-26", cycles=2, delivery_format="csv")
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [f"{c.code}.csv" for c in CHANNELS] + ["notes.md"]
    )


def test_the_generate_command_writes_the_chosen_format(tmp_path, monkeypatch, capsys):
    from energymobile.cli import DELIVERY_FORMATS, main

    assert DELIVERY_FORMATS == FORMAT_NAMES
    monkeypatch.setenv("ENERGYMOBILE_LANDING", str(tmp_path / "landing"))
    assert main(["generate", "--cohorts", "1", "--cycles", "2", "--format", "jsonl"]) == 0
    assert "generated 2008-03-26" in capsys.readouterr().out
    folder = tmp_path / "landing" / "logs" / "2008-03-26"
    assert [p.name for p in folder.iterdir()] == ["cycles.jsonl"]


def test_the_generate_command_uploads_a_jsonl_drop_to_an_s3_landing(
    moto_s3, s3_prefix, monkeypatch
):
    from energymobile.cli import main
    from energymobile_tests.support.s3 import S3_BUCKET

    monkeypatch.setenv("ENERGYMOBILE_LANDING", f"s3://{S3_BUCKET}/{s3_prefix}/landing")
    assert main(["generate", "--cohorts", "1", "--cycles", "3", "--format", "jsonl"]) == 0
    assert moto_s3.keys(S3_BUCKET, f"{s3_prefix}/landing/") == [
        f"{s3_prefix}/landing/logs/2008-03-26/cycles.jsonl",
        f"{s3_prefix}/landing/profile/profile.txt",
    ]
