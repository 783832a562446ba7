"""A small picture of a cohort's hourly series, so one can look at a cohort in the UI.

Pure: a frame in, PNG bytes out. It draws on a bare `Figure` with the Agg canvas (never
pyplot), so there is no global figure state and no display is needed; safe in a run worker,
a sensor or a test.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence

import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from energymobile.channels import CHANNEL_BY_CODE

PLOTTED_CODES: tuple[str, ...] = ("PS1", "EPS1", "FS1", "TS1", "CE")
"""One channel per physical quantity: pressure, motor power, flow, temperature, cooling."""
WIDTH_INCHES = 6.0
PANEL_INCHES = 0.7
DPI = 72
LINE_COLOR = "#4f43dd"


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
    figure = Figure(figsize=(WIDTH_INCHES, 0.5 + PANEL_INCHES * len(present)), dpi=DPI)
    FigureCanvasAgg(figure)
    axes = figure.subplots(len(present), 1, sharex=True, squeeze=False)[:, 0]
    times = pd.to_datetime(frame["date_time"]) if "date_time" in frame else pd.Series([])
    for ax, code in zip(axes, present, strict=True):
        channel = CHANNEL_BY_CODE[code]
        if channel.mean_column in frame and len(frame):
            ax.plot(
                times,
                frame[channel.mean_column].astype(float),
                color=LINE_COLOR,
                linewidth=0.7,
                antialiased=False,
            )
        ax.set_ylabel(
            f"{code} mean\n{channel.unit}", fontsize=7, rotation=0, ha="right", va="center"
        )
        ax.tick_params(labelsize=6)
        ax.grid(True, linewidth=0.3, alpha=0.5)
    axes[0].set_title(title, fontsize=8)
    figure.autofmt_xdate(rotation=0, ha="center")
    figure.tight_layout(pad=0.4)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def markdown_image(png: bytes, alt: str) -> str:
    """The PNG inline as a markdown image (a data URI), which the Dagster UI displays."""
    return f"![{alt}](data:image/png;base64,{base64.b64encode(png).decode('ascii')})"
