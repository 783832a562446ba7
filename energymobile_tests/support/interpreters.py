"""The CPython interpreters the product is tested on besides the one running the tests: the
lowest that `requires-python` admits, and the newest supported one installed on this machine.

uv finds interpreters it installed (`uv python install`, which needs the network to reach
python-build-standalone: not the case on this project's machines) or on PATH; pyenv's shims
for versions other than the global one fail when run, so pyenv's own folders are looked in
too (this project's machine image ships CPython 3.10 to 3.13 there).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from energymobile_tests.support import REPO_ROOT

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

PYENV_VERSIONS = Path.home() / ".pyenv" / "versions"


@dataclass(frozen=True)
class Interpreter:
    version: tuple[int, int]
    path: Path | None
    """None: not found on this machine."""
    looked_in: str

    @property
    def name(self) -> str:
        return f"CPython {self.version[0]}.{self.version[1]}"


def supported_versions() -> list[tuple[int, int]]:
    """Every 3.x that pyproject's `requires-python` (`>=3.A,<3.B`) admits, lowest first."""
    spec = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    bounds = re.fullmatch(r">=3\.(\d+),\s*<3\.(\d+)", spec)
    assert bounds, f"requires-python {spec!r}: expected >=3.A,<3.B"
    return [(3, minor) for minor in range(int(bounds[1]), int(bounds[2]))]


def find(version: tuple[int, int]) -> Interpreter:
    """A working CPython `version`: uv's discovery first, then pyenv's folders, then
    `pythonX.Y` on PATH; each candidate is run to check it is that version."""
    dotted = f"{version[0]}.{version[1]}"
    candidates: list[str] = []
    uv = shutil.which("uv") or str(Path.home() / ".local" / "bin" / "uv")
    found = subprocess.run(
        [uv, "python", "find", "--no-python-downloads", dotted],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if found.returncode == 0:
        candidates.append(found.stdout.strip())
    candidates += sorted(str(p) for p in PYENV_VERSIONS.glob(f"{dotted}.*/bin/python{dotted}"))
    candidates += [p for p in [shutil.which(f"python{dotted}")] if p]
    looked_in = f"uv python find, {PYENV_VERSIONS}/{dotted}.*, python{dotted} on PATH"
    for candidate in candidates:
        if _runs_as(candidate, version):
            return Interpreter(version, Path(candidate), looked_in)
    return Interpreter(version, None, looked_in)


def lowest_supported() -> Interpreter:
    return find(supported_versions()[0])


def newest_supported_installed() -> Interpreter:
    """The newest supported version found, newer than the one running the tests; if none is,
    the newest supported (reported as not found)."""
    newer = [v for v in supported_versions() if v > sys.version_info[:2]]
    for version in reversed(newer):
        interpreter = find(version)
        if interpreter.path is not None:
            return interpreter
    return find(supported_versions()[-1])


def _runs_as(python: str, version: tuple[int, int]) -> bool:
    try:
        ran = subprocess.run(
            [python, "-c", "import sys; print(sys.implementation.name, *sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    except OSError:
        return False
    return ran.returncode == 0 and ran.stdout.split() == ["cpython", *map(str, version)]
