"""Generate realistic deliveries: `<landing>/logs/<cohort>/<CODE>.txt` and the shared profile.

- The eight 1 Hz channels are the real UCI rows, cycle for cycle (so they agree with the real
  profile, which every cohort reuses row for row).
- PS1–PS6, EPS1, FS1 and FS2 are synthesized at full shape (6000 or 600 values per row). The
  first sample of each cycle is the template's real value for that cycle; the rest of the cycle
  follows the shape of the two real cycles of PS2 (100 Hz) or FS1 (10 Hz), blended at random,
  scaled to that level, with 0.2 % noise, rounded to the template's decimals.
- Seeded by cohort key and `seed`: the same call writes the same bytes.
- In any delivery format (ingest/formats): `tsv` as the rig writes it, or the same values as
  `csv` (17 `<CODE>.csv` with their header) or `jsonl` (one `cycles.jsonl`). The other formats
  are written from the tab-separated text itself, number for number, so every format of one
  seed holds exactly the same values.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

import numpy as np
import polars as pl

from energymobile.channels import CHANNELS, PROFILE_FILE_NAME, Channel
from energymobile.cohorts import default_cycles, parse_cohort_key
from energymobile.ingest.formats import (
    CSV,
    FORMAT_BY_NAME,
    FORMATS,
    JSONL_NAME,
    TSV,
    DeliveryFormat,
)
from energymobile.ingest.formats.csv import header_line
from energymobile.ingest.formats.jsonl import CYCLE_KEY
from energymobile.ingest.formats.per_channel import FilePerChannel
from energymobile.sample.real import (
    REAL_1HZ_CODES,
    REAL_CYCLES,
    real_bytes,
    template_decimals,
    template_first_samples,
)

NOISE = 0.002
FORMAT_NAMES: tuple[str, ...] = tuple(f.name for f in FORMATS)


def cohort_folder(landing: Path, key: str) -> Path:
    return landing / "logs" / key


def profile_path(landing: Path) -> Path:
    return landing / "profile" / PROFILE_FILE_NAME


def generate_cohort(
    landing: Path,
    key: str,
    *,
    cycles: int | None = None,
    seed: int = 0,
    delivery_format: str = TSV.name,
) -> Path:
    """Write one cohort's delivery (and the profile, once); returns the cohort folder.

    Files of the other formats in the folder are removed first: a delivery in a new format
    replaces the old one, as a technician clearing the folder would.
    """
    parse_cohort_key(key)
    fmt = FORMAT_BY_NAME[delivery_format]
    count = default_cycles(key) if cycles is None else cycles
    folder = cohort_folder(landing, key)
    folder.mkdir(parents=True, exist_ok=True)
    _remove_other_formats(folder, fmt)
    rng = np.random.default_rng(_seed_for(key, seed))
    texts = ((channel, channel_bytes(channel, count, rng)) for channel in CHANNELS)
    for name, content in delivery_files(fmt, texts):
        _write_atomically(folder / name, content)
    write_profile(landing)
    return folder


def delivery_files(
    fmt: DeliveryFormat, texts: Iterable[tuple[Channel, bytes]]
) -> Iterator[tuple[str, bytes | Iterator[bytes]]]:
    """A delivery's files in `fmt`, made from each channel's tab-separated text (taken one
    channel at a time, except for JSON Lines, whose every line holds all 17)."""
    if not isinstance(fmt, FilePerChannel):
        yield JSONL_NAME, jsonl_lines(dict(texts))
        return
    for channel, text in texts:
        yield fmt.file_name(channel), csv_bytes(channel, text) if fmt is CSV else text


def csv_bytes(channel: Channel, tsv: bytes) -> bytes:
    """A channel's CSV delivery: the header, then the tab-separated rows with commas."""
    return header_line(channel.code, channel.samples) + tsv.replace(b"\t", b",")


def jsonl_lines(tsv: Mapping[Channel, bytes]) -> Iterator[bytes]:
    """The JSON Lines delivery of the channels' tab-separated rows: one object per cycle,
    each row's text as the array (the rows' numbers are valid JSON numbers as written)."""
    position = dict.fromkeys(tsv, 0)
    cycle = 0
    while all(position[c] < len(tsv[c]) for c in tsv):
        parts = [b'{"%s":%d' % (CYCLE_KEY.encode(), cycle)]
        for channel, text in tsv.items():
            end = text.index(b"\n", position[channel])
            row = text[position[channel] : end].replace(b"\t", b",")
            parts.append(b',"%s":[%s]' % (channel.code.encode(), row))
            position[channel] = end + 1
        yield b"".join(parts) + b"}\n"
        cycle += 1


def _remove_other_formats(folder: Path, keep: DeliveryFormat) -> None:
    for fmt in FORMATS:
        if fmt is not keep:
            for name in fmt.file_names:
                (folder / name).unlink(missing_ok=True)


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


def _write_atomically(path: Path, data: bytes | Iterable[bytes]) -> None:
    """Write beside the target and rename, so a watcher never sees half a file."""
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("wb") as out:
        if isinstance(data, bytes):
            out.write(data)
        else:
            out.writelines(data)
    tmp.replace(path)
