"""The 17 physical sensors of the test rig and the five condition codes of profile.txt.

In code they are *channels*: in Dagster, "sensor" means something else. Everything here comes
from the dataset's own documentation (description.txt, documentation.txt), nothing is invented.
"""

from __future__ import annotations

from dataclasses import dataclass

CYCLE_SECONDS = 60
"""Every test cycle lasts 60 s; the rig records one cycle per hour."""


@dataclass(frozen=True)
class Channel:
    """One sensor file of a delivery: `<code>.txt`, one row per cycle, `samples` columns."""

    code: str
    quantity: str
    unit: str
    rate_hz: int
    template_header: str
    """Its column's header in the scientists' template, HourlyData.csv, spaced as delivered
    (`Temperature  2`, ` Vibration mm/s`): that column holds the cycle's first sample."""

    @property
    def samples(self) -> int:
        """Values per row: the sampling rate times the 60-second cycle."""
        return self.rate_hz * CYCLE_SECONDS

    @property
    def column(self) -> str:
        """The sensor's name in lower case (`ps1`): its netCDF variable, and the stem of its
        hourly columns."""
        return self.code.lower()

    @property
    def first_column(self) -> str:
        """Hourly column holding each cycle's first sample (`ps1_first`): the template's value."""
        return f"{self.column}_first"

    @property
    def mean_column(self) -> str:
        """Hourly column holding the mean of each cycle's samples (`ps1_mean`)."""
        return f"{self.column}_mean"

    @property
    def file_name(self) -> str:
        return f"{self.code}.txt"


CHANNELS: tuple[Channel, ...] = (
    Channel("PS1", "Pressure", "bar", 100, "Pressure bar 1"),
    Channel("PS2", "Pressure", "bar", 100, "Pressure bar 2"),
    Channel("PS3", "Pressure", "bar", 100, "Pressure bar 3"),
    Channel("PS4", "Pressure", "bar", 100, "Pressure bar 4"),
    Channel("PS5", "Pressure", "bar", 100, "Pressure bar 5"),
    Channel("PS6", "Pressure", "bar", 100, "Pressure bar 6"),
    Channel("EPS1", "Motor power", "W", 100, "Motor power W"),
    Channel("FS1", "Volume flow", "l/min", 10, "Volume flow l/min 1"),
    Channel("FS2", "Volume flow", "l/min", 10, "Volume flow l/min 2"),
    Channel("TS1", "Temperature", "°C", 1, "Temperature 1"),
    Channel("TS2", "Temperature", "°C", 1, "Temperature  2"),
    Channel("TS3", "Temperature", "°C", 1, "Temperature  3"),
    Channel("TS4", "Temperature", "°C", 1, "Temperature  4"),
    Channel("VS1", "Vibration", "mm/s", 1, " Vibration mm/s"),
    Channel("CE", "Cooling efficiency (virtual)", "%", 1, "Cooling efficiency"),
    Channel("CP", "Cooling power (virtual)", "kW", 1, "Cooling power"),
    Channel("SE", "Efficiency factor", "%", 1, "Efficiency factor"),
)
CHANNEL_BY_CODE: dict[str, Channel] = {c.code: c for c in CHANNELS}
CHANNEL_COLUMNS: tuple[str, ...] = tuple(c.column for c in CHANNELS)
FIRST_COLUMNS: tuple[str, ...] = tuple(c.first_column for c in CHANNELS)
MEAN_COLUMNS: tuple[str, ...] = tuple(c.mean_column for c in CHANNELS)
TEMPLATE_ORDER: tuple[Channel, ...] = tuple(sorted(CHANNELS, key=lambda c: c.code))
"""The channels in the order of the template's columns (by code: CE, CP, EPS1, FS1, …, VS1)."""

PROFILE_FILE_NAME = "profile.txt"


@dataclass(frozen=True)
class Condition:
    """One column of profile.txt and the meaning of each of its documented codes."""

    column: str
    title: str
    codes: dict[int, str]

    @property
    def description_column(self) -> str:
        return f"{self.column}_description"


CONDITIONS: tuple[Condition, ...] = (
    Condition(
        "cooler_condition",
        "Cooler condition / %",
        {3: "close to total failure", 20: "reduced efficiency", 100: "full efficiency"},
    ),
    Condition(
        "valve_condition",
        "Valve condition / %",
        {
            100: "optimal switching behavior",
            90: "small lag",
            80: "severe lag",
            73: "close to total failure",
        },
    ),
    Condition(
        "internal_pump_leakage",
        "Internal pump leakage",
        {0: "no leakage", 1: "weak leakage", 2: "severe leakage"},
    ),
    Condition(
        "hydraulic_accumulator_bar",
        "Hydraulic accumulator / bar",
        {
            130: "optimal pressure",
            115: "slightly reduced pressure",
            100: "severely reduced pressure",
            90: "close to total failure",
        },
    ),
    Condition(
        "stable_flag",
        "Stable flag",
        {0: "conditions were stable", 1: "static conditions might not have been reached yet"},
    ),
)
CONDITION_COLUMNS: tuple[str, ...] = tuple(c.column for c in CONDITIONS)
DESCRIPTION_COLUMNS: tuple[str, ...] = tuple(c.description_column for c in CONDITIONS)
