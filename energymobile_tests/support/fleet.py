"""A fleet landing for tests: short cohorts delivered by rigs in their own landing folders."""

from __future__ import annotations

import shutil
from pathlib import Path

from energymobile.rigs import Rig
from energymobile.sample.generate import generate_cohort
from energymobile.storage.landing import logs_dir
from energymobile_tests.support.short_cohorts import SHORT_CYCLES


def deliver(landing: Path, rig: Rig, key: str, seed: int, cycles: int = SHORT_CYCLES) -> Path:
    """A short cohort of the rig in the rig's landing folder (`logs/` for the default rig,
    `sites/<site>/<rig>/logs/` for another), with the one shared profile; returns its folder."""
    scratch = landing.parent / f"scratch-{rig.site}-{rig.name}-{key}-{seed}"
    generate_cohort(scratch, key, cycles=cycles, seed=seed)
    target = landing / logs_dir(rig) / key
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(scratch / "logs" / key, target)
    (landing / "profile").mkdir(parents=True, exist_ok=True)
    shutil.copy(scratch / "profile" / "profile.txt", landing / "profile" / "profile.txt")
    shutil.rmtree(scratch)
    return target
