"""Generate realistic deliveries: `<landing>/logs/<cohort>/<CODE>.txt` and the shared profile.

- The eight 1 Hz channels are the real UCI rows, cycle for cycle (so they agree with the real
  profile, which every cohort reuses row for row).
- PS1–PS6, EPS1, FS1 and FS2 are synthesized at full shape (6000 or 600 values per row). The
  first sample of each cycle is the template's real value for that cycle; the rest of the cycle
  follows the shape of the two real cycles of PS2 (100 Hz) or FS1 (10 Hz), blended at random,
  scaled to that level, with 0.2 % noise, rounded to the template's decimals.
- Seeded by cohort key and `seed`: the same call writes the same bytes.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import numpy as np
import polars as pl

from energymobile.channels import CHANNELS, PROFILE_FILE_NAME, Channel
from energymobile.cohorts import default_cycles, parse_cohort_key
from energymobile.sample.real import (
    REAL_1HZ_CODES,
    REAL_CYCLES,
    real_bytes,
    template_decimals,
    template_first_samples,
)

NOISE = 0.002


def cohort_folder(landing: Path, key: str) -> Path:
    return landing / "logs" / key


def profile_path(landing: Path) -> Path:
    return landing / "profile" / PROFILE_FILE_NAME


def generate_cohort(landing: Path, key: str, *, cycles: int | None = None, seed: int = 0) -> Path:
    """Write one cohort's 17 files (and the profile, once); returns the cohort folder."""
    parse_cohort_key(key)
    count = default_cycles(key) if cycles is None else cycles
    folder = cohort_folder(landing, key)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(_seed_for(key, seed))
    for channel in CHANNELS:
        data = channel_bytes(channel, count, rng)
        _write_atomically(folder / channel.file_name, data)
    write_profile(landing)
    return folder


def write_profile(landing: Path) -> Path:
    path = profile_path(landing)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        _write_atomically(path, real_bytes(PROFILE_FILE_NAME))
    return path


def channel_bytes(channel: Channel, cycles: int, rng: np.random.Generator) -> bytes:
    """The file content of one channel for `cycles` cycles."""
    if channel.code in REAL_1HZ_CODES:
        return _real_rows(channel.code, cycles)
    return _format(_synthesize(channel, cycles, rng), template_decimals()[channel.code])


def _real_rows(code: str, cycles: int) -> bytes:
    lines = real_bytes(f"{code}.txt").splitlines(keepends=True)
    return b"".join(lines[i % REAL_CYCLES] for i in range(cycles))


def _cycle_shapes(channel: Channel) -> np.ndarray:
    """The two real cycles of the same rate, each divided by its first sample."""
    source = "PS2" if channel.rate_hz == 100 else "FS1"
    rows = np.loadtxt(io.BytesIO(real_bytes(f"{source}.first2cycles.txt")), delimiter="\t")
    return rows / rows[:, :1]


def _synthesize(channel: Channel, cycles: int, rng: np.random.Generator) -> np.ndarray:
    levels = template_first_samples()[channel.code].to_numpy()
    level = levels[np.arange(cycles) % REAL_CYCLES][:, None]
    shapes = _cycle_shapes(channel)
    weight = rng.uniform(0.0, 1.0, size=(cycles, 1))
    shape = weight * shapes[0] + (1.0 - weight) * shapes[1]
    values = level * shape * (1.0 + rng.normal(0.0, NOISE, size=(cycles, channel.samples)))
    values = np.clip(values, 0.0, None)
    values[:, 0] = level[:, 0]
    return values


def _format(values: np.ndarray, decimals: int) -> bytes:
    """Tab-separated rows, shortest representation of each rounded value, like the real files."""
    rounded = np.round(values, decimals)
    frame = pl.from_numpy(rounded, schema=[f"v{i}" for i in range(rounded.shape[1])])
    return frame.write_csv(separator="\t", include_header=False).encode()


def _seed_for(key: str, seed: int) -> int:
    digest = hashlib.sha256(f"{key}/{seed}".encode()).digest()
    return int.from_bytes(digest[:8], "little")


def _write_atomically(path: Path, data: bytes) -> None:
    """Write beside the target and rename, so a watcher never sees half a file."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
