"""The real UCI files shipped (compressed) in `sample/data/`, and the scientists' template."""

from __future__ import annotations

import io
from functools import cache
from importlib import resources

import pandas as pd
import zstandard

from energymobile.channels import TEMPLATE_ORDER

DATA = resources.files("energymobile.sample") / "data"
REAL_CYCLES = 2205
REAL_1HZ_CODES = ("CE", "CP", "SE", "TS1", "TS2", "TS3", "TS4", "VS1")

TEMPLATE_COLUMNS: dict[str, str] = {c.template_header: c.code for c in TEMPLATE_ORDER}
"""The template's sensor headers (odd spacing included, as delivered) and the channel each holds,
in the template's order (from energymobile.channels)."""


@cache
def real_bytes(name: str) -> bytes:
    """The original bytes of a shipped file, e.g. `real_bytes("CE.txt")`."""
    compressed = (DATA / f"{name}.zst").read_bytes()
    return zstandard.ZstdDecompressor().decompress(compressed)


def template() -> pd.DataFrame:
    """The data scientists' HourlyData.csv: first sample of each cycle, 2205 rows."""
    return pd.read_csv(io.BytesIO(real_bytes("HourlyData.csv")), index_col=0)


@cache
def template_decimals() -> dict[str, int]:
    """Channel code -> most decimals the template writes for it (e.g. EPS1 1, PS5 3)."""
    frame = pd.read_csv(io.BytesIO(real_bytes("HourlyData.csv")), index_col=0, dtype=str)
    return {
        code: int(frame[header].str.partition(".")[2].str.len().max())
        for header, code in TEMPLATE_COLUMNS.items()
    }


@cache
def template_first_samples() -> dict[str, pd.Series]:
    """Channel code -> the template's value for each cycle (its first sample)."""
    frame = template()
    return {code: frame[header] for header, code in TEMPLATE_COLUMNS.items()}
