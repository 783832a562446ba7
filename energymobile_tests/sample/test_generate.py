"""Generated deliveries: deterministic, the documented shapes, anchored on the real data."""

import numpy as np

from energymobile.channels import CHANNELS
from energymobile.sample.generate import generate_cohort
from energymobile.sample.real import real_bytes, template_first_samples


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
