"""Rigs and sites: which rig a delivery is from. Pure: names and their rules, no I/O, no Dagster.

The fleet is sites (locations) with wells, each well's rig delivering the same 17 files per
cohort. A rig is named by its site and its own name, unique within the site (the warehouse's
`rigs` table: unique (site, name)). A landing of the single-rig layout (`logs/<cohort>/`) is one
rig, `DEFAULT_RIG`: the installations before the fleet keep working unchanged, their rows under
it (warehouse revision 007).

Names are folder names in the landing (`sites/<site>/<rig>/`), path levels in the exports
(`site=<site>/`) and part of Dagster partition keys, so they are kept to letters, digits and
`_ . -` (no `|`, `,` or brackets, which partition keys reserve), at most 64 characters.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DEFAULT_SITE = "default"
"""The site of a single-rig installation (and of every rig delivered in the old layout)."""
DEFAULT_RIG_NAME = "default"
NAME_MAX_CHARS = 64
_NAME = re.compile(rf"[A-Za-z0-9][A-Za-z0-9_.-]{{0,{NAME_MAX_CHARS - 1}}}")


class InvalidRigName(ValueError):
    """A site or rig name the landing layout, the exports or Dagster could not carry."""


def check_name(name: str, what: str = "rig") -> str:
    """The name itself, or InvalidRigName saying what is wrong with it."""
    if not _NAME.fullmatch(name):
        raise InvalidRigName(
            f"{name!r} is not a valid {what} name: letters, digits, '_', '.' or '-', starting "
            f"with a letter or digit, at most {NAME_MAX_CHARS} characters"
        )
    return name


@dataclass(frozen=True, order=True)
class Rig:
    """One rig, by its site and its name within the site."""

    site: str
    name: str

    def __post_init__(self) -> None:
        check_name(self.site, "site")
        check_name(self.name, "rig")

    @property
    def well(self) -> str:
        """The well a rig is recorded at when first seen: its own name (one rig per well);
        the `rigs` table's `well` can be corrected by hand afterwards."""
        return self.name

    def __str__(self) -> str:
        return f"{self.site}/{self.name}"


DEFAULT_RIG = Rig(DEFAULT_SITE, DEFAULT_RIG_NAME)
"""The one rig of a single-rig installation: `logs/<cohort>/` in the landing, rig_id 1."""
DEFAULT_RIG_ID = 1
"""The default rig's key in the warehouse's `rigs` table (inserted by revision 007)."""
