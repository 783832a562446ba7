"""A small picture of a cohort's hourly series, so one can look at a cohort in the UI.

Pure: a frame in, PNG bytes out. Drawn with Pillow: one panel per channel, its cycle means as
a line over the cohort's hours, with its range and the first and last hour written beside it.
matplotlib drew the same picture before, but importing and laying it out cost ~0.85 s of CPU
in every run's process, more than the whole data work of a small cohort (issue 16); Pillow
imports in ~20 ms and draws it in a few.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence

import numpy as np
import pandas as pd
from PIL import Image, ImageDraw, ImageFont

from energymobile.channels import CHANNEL_BY_CODE

PLOTTED_CODES: tuple[str, ...] = ("PS1", "EPS1", "FS1", "TS1", "CE")
"""One channel per physical quantity: pressure, motor power, flow, temperature, cooling."""
WIDTH = 432
"""Pixels (6 inches at 72 dpi, as the matplotlib picture was)."""
PANEL = 50
TITLE = 18
AXIS = 16
LABEL = 92
"""Left margin for the channel's name, unit and range."""
MARGIN = 8
FONT_SIZE = 10
LINE_COLOR = (79, 67, 221)
FRAME_COLOR = (170, 170, 170)
TEXT_COLOR = (30, 30, 30)


def hourly_series_png(
    frame: pd.DataFrame, *, title: str, codes: Sequence[str] = PLOTTED_CODES
) -> bytes:
    """One small panel per channel (its cycle means) against `date_time`, stacked with a shared
    time axis.

    Channels absent from the frame are left out; a frame without rows still gives a (blank)
    picture, so a metadata entry never breaks a materialization.
    """
    present = [c for c in codes if CHANNEL_BY_CODE[c].mean_column in frame.columns] or list(
        codes[:1]
    )
    height = TITLE + PANEL * len(present) + AXIS
    image = Image.new("RGB", (WIDTH, height), "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=FONT_SIZE)
    draw.text((WIDTH / 2, 2), title, fill=TEXT_COLOR, font=font, anchor="ma")
    left, right = LABEL, WIDTH - MARGIN
    times = _hours(frame)
    for index, code in enumerate(present):
        top = TITLE + index * PANEL
        box = (left, top + 2, right, top + PANEL - 2)
        draw.rectangle(box, outline=FRAME_COLOR)
        channel = CHANNEL_BY_CODE[code]
        values = (
            frame[channel.mean_column].to_numpy(dtype=float, na_value=np.nan)
            if channel.mean_column in frame
            else np.array([])
        )
        label = f"{code} mean\n{channel.unit}"
        finite = values[np.isfinite(values)] if len(values) else values
        if len(finite):
            low, high = float(finite.min()), float(finite.max())
            label += f"\n{low:.4g} to {high:.4g}"
            points = _points(times, values, box, low, high)
            if len(points) > 1:
                draw.line(points, fill=LINE_COLOR, width=1)
        draw.multiline_text(
            (left - 4, top + PANEL / 2),
            label,
            fill=TEXT_COLOR,
            font=font,
            anchor="rm",
            align="right",
        )
    if len(times):
        start, end = (pd.Timestamp(t).strftime("%Y-%m-%d %H:%M") for t in (times[0], times[-1]))
        axis_y = TITLE + PANEL * len(present) + 2
        draw.text((left, axis_y), start, fill=TEXT_COLOR, font=font, anchor="la")
        draw.text((right, axis_y), end, fill=TEXT_COLOR, font=font, anchor="ra")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=False)
    return buffer.getvalue()


def _hours(frame: pd.DataFrame) -> np.ndarray:
    if "date_time" not in frame or not len(frame):
        return np.array([], dtype="datetime64[ns]")
    return pd.to_datetime(frame["date_time"]).to_numpy(dtype="datetime64[ns]")


def _points(
    times: np.ndarray,
    values: np.ndarray,
    box: tuple[float, float, float, float],
    low: float,
    high: float,
) -> list[tuple[float, float]]:
    """The finite samples as pixel positions inside the panel (time across, value up)."""
    x0, y0, x1, y1 = box[0] + 1, box[1] + 2, box[2] - 1, box[3] - 2
    keep = np.isfinite(values)
    if not keep.any():
        return []
    if len(times) == len(values):
        seconds = times.astype("datetime64[s]").astype(np.int64).astype(float)
    else:  # no date_time column: the rows in order
        seconds = np.arange(len(values), dtype=float)
    span = seconds[-1] - seconds[0] or 1.0
    xs = x0 + (seconds - seconds[0]) / span * (x1 - x0)
    if high > low:
        ys = y1 - (values - low) / (high - low) * (y1 - y0)
    else:  # a constant series: a line across the middle
        ys = np.full_like(values, (y0 + y1) / 2)
    return list(zip(xs[keep].tolist(), ys[keep].tolist(), strict=True))


def markdown_image(png: bytes, alt: str) -> str:
    """The PNG inline as a markdown image (a data URI), which the Dagster UI displays."""
    return f"![{alt}](data:image/png;base64,{base64.b64encode(png).decode('ascii')})"
