"""The installed product (energymobile_tests.fixtures.wheel builds it): its wheel file, and a
virtual environment holding the wheel and the locked dependencies, nothing of the checkout."""

from __future__ import annotations

import os
import subprocess
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

CLEAN_ENV_KEEP = ("HOME", "LANG", "LC_ALL", "TMPDIR", "TZ")
"""What a user's shell passes on; nothing of the test process's ENERGYMOBILE_*, DAGSTER_*,
AWS_*, VIRTUAL_ENV or PYTHONPATH."""


@dataclass(frozen=True)
class InstalledWheel:
    wheel: Path
    venv: Path
    requirements: Path
    """The locked dependencies as installed (uv export: pinned, with hashes)."""

    @property
    def names(self) -> list[PurePosixPath]:
        """The files the wheel holds."""
        with zipfile.ZipFile(self.wheel) as archive:
            return [PurePosixPath(name) for name in archive.namelist()]

    def bin(self, program: str) -> Path:
        return self.venv / "bin" / program

    def environment(self, **extra: str) -> dict[str, str]:
        """A user's environment with this venv first on PATH, plus `extra`."""
        env = {k: v for k, v in os.environ.items() if k in CLEAN_ENV_KEEP}
        return env | {"PATH": f"{self.venv / 'bin'}:/usr/local/bin:/usr/bin:/bin"} | extra

    def run(
        self, program: str, *args: str, cwd: Path, timeout: float = 600, **env: str
    ) -> subprocess.CompletedProcess[str]:
        """Run one of the venv's programs in `cwd` with a user's environment (+ `env`)."""
        return subprocess.run(
            [str(self.bin(program)), *args],
            cwd=cwd,
            env=self.environment(**env),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
