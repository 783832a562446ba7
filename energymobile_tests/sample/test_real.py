"""The shipped real data decompresses to the published bytes."""

import hashlib
from importlib import resources

import pytest

from energymobile.sample.real import REAL_CYCLES, TEMPLATE_COLUMNS, real_bytes, template

pytestmark = pytest.mark.unit

SUMS = {
    line.split()[1].rsplit("/", 1)[-1]: line.split()[0]
    for line in (resources.files("energymobile.sample") / "data" / "SHA256SUMS")
    .read_text()
    .splitlines()
}


@pytest.mark.parametrize(
    "name",
    [
        "CE.txt",
        "CP.txt",
        "SE.txt",
        "TS1.txt",
        "TS2.txt",
        "TS3.txt",
        "TS4.txt",
        "VS1.txt",
        "profile.txt",
        "FS1.first2cycles.txt",
        "PS2.first2cycles.txt",
        "HourlyData.csv",
    ],
)
def test_shipped_file_is_byte_identical_to_the_original(name):
    assert hashlib.sha256(real_bytes(name)).hexdigest() == SUMS[name]


def test_template_has_a_row_per_cycle_and_every_sensor():
    frame = template()
    assert len(frame) == REAL_CYCLES
    assert set(TEMPLATE_COLUMNS) <= set(frame.columns)
    assert frame["Time"].tolist()[:3] == [0, 60, 120]
