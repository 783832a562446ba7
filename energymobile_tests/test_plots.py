"""The cohort's picture in the UI's metadata: a PNG with a line per plotted channel."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from energymobile.channels import CHANNEL_BY_CODE
from energymobile.plots import LINE_COLOR, PLOTTED_CODES, WIDTH, hourly_series_png

pytestmark = pytest.mark.unit


def _frame(hours: int, codes=PLOTTED_CODES) -> pd.DataFrame:
    frame = pd.DataFrame({"date_time": pd.date_range("2008-03-26", periods=hours, freq="h")})
    for code in codes:
        frame[CHANNEL_BY_CODE[code].mean_column] = np.sin(np.arange(hours) / 20.0)
    return frame


def _image(png: bytes) -> Image.Image:
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    return Image.open(io.BytesIO(png)).convert("RGB")


def _line_pixels(image: Image.Image) -> int:
    return int((np.asarray(image) == np.array(LINE_COLOR)).all(axis=2).sum())


def test_a_panel_per_present_channel_each_with_its_line():
    five = _image(hourly_series_png(_frame(200), title="cohort"))
    two = _image(hourly_series_png(_frame(200, PLOTTED_CODES[:2]), title="cohort"))
    assert five.width == two.width == WIDTH
    assert five.height > two.height
    assert _line_pixels(five) > 2 * _line_pixels(two) > 0


def test_no_rows_or_only_gaps_still_give_a_picture_without_a_line():
    empty = _image(hourly_series_png(_frame(0), title="empty"))
    gaps = _frame(10)
    for code in PLOTTED_CODES:
        gaps[CHANNEL_BY_CODE[code].mean_column] = np.nan
    assert _line_pixels(empty) == 0
    assert _line_pixels(_image(hourly_series_png(gaps, title="gaps"))) == 0
