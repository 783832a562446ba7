"""Dagster instance configurations (`dagster.yaml`) shipped inside the package, found with
importlib.resources, so an installed wheel or a container has them without the checkout.

- `dagster.yaml`: the embedded default (SQLite under DAGSTER_HOME, the run queue's limits);
  the CLI and `make dev` write it into a DAGSTER_HOME that has none.
- `dagster.production.yaml`: PostgreSQL storage, the queued run coordinator, the default run
  launcher, run monitoring and compute logs in S3, every secret from the environment
  (docs/deploy.md).

`python -m energymobile.instance [--production] [--into DAGSTER_HOME]` prints one, or writes it
as DAGSTER_HOME/dagster.yaml unless that file exists.
"""

from __future__ import annotations

import argparse
from importlib.resources import files
from pathlib import Path

EMBEDDED = "dagster.yaml"
PRODUCTION = "dagster.production.yaml"
INSTANCE_FILE = "dagster.yaml"
"""The name Dagster reads in DAGSTER_HOME."""


def instance_yaml(name: str = EMBEDDED) -> str:
    """The text of a shipped configuration (EMBEDDED or PRODUCTION)."""
    if name not in (EMBEDDED, PRODUCTION):
        raise ValueError(f"no instance configuration {name!r}: {EMBEDDED} or {PRODUCTION}")
    return files(__name__).joinpath(name).read_text(encoding="utf-8")


def ensure_instance_yaml(dagster_home: Path, name: str = EMBEDDED) -> Path:
    """DAGSTER_HOME/dagster.yaml, written from the shipped `name` unless one is there already
    (an operator's own file is never replaced)."""
    dagster_home.mkdir(parents=True, exist_ok=True)
    target = dagster_home / INSTANCE_FILE
    if not target.exists():
        target.write_text(instance_yaml(name), encoding="utf-8")
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m energymobile.instance", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--production", action="store_true", help=f"{PRODUCTION}, not {EMBEDDED}")
    parser.add_argument("--into", type=Path, metavar="DAGSTER_HOME", help="write it there")
    args = parser.parse_args(argv)
    name = PRODUCTION if args.production else EMBEDDED
    if args.into is None:
        print(instance_yaml(name), end="")
    else:
        print(ensure_instance_yaml(args.into, name))
    return 0
