"""The local landing is a boundary: nothing is read through a link that leaves it, and what a
user can get wrong in it is an InputError naming the file as the landing names it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from energymobile.ingest.delivery import read_delivery
from energymobile.ingest.errors import InputError
from energymobile.rigs import DEFAULT_RIG, Rig
from energymobile.sample.generate import generate_cohort
from energymobile.storage.landing import LocalLanding, logs_dir

pytestmark = pytest.mark.integration

KEY = "2008-03-26"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
LINK_OUT = "a symbolic link to a file outside the landing folder: refused, nothing read"


@pytest.fixture
def landing(tmp_path: Path) -> Path:
    root = tmp_path / "landing"
    generate_cohort(root, KEY, cycles=3)
    return root


@pytest.fixture
def credentials(tmp_path: Path) -> Path:
    """A file beside the landing, as ~/.aws/credentials would be."""
    path = tmp_path / "credentials"
    path.write_text(f"[default]\naws_secret_access_key={SECRET}\n")
    return path


def _read(landing: Path):
    source = LocalLanding(landing)
    return read_delivery(
        KEY,
        available=source.list_cohort(KEY).keys(),
        read=lambda name: source.read_cohort_file(KEY, name),
        read_profile_bytes=source.read_profile,
    )


def _link(path: Path, target: Path) -> None:
    path.unlink()
    path.symlink_to(target)


def test_a_sensor_file_linked_out_of_the_landing_is_refused_unread(landing, credentials):
    """Before: the file was read and the error quoted its start."""
    _link(landing / "logs" / KEY / "TS1.txt", credentials)
    with pytest.raises(InputError) as caught:
        _read(landing)
    assert str(caught.value) == f"logs/{KEY}/TS1.txt: {caught.value.reason}"
    assert caught.value.reason.startswith(LINK_OUT)
    assert "aws_secret" not in str(caught.value) and SECRET not in str(caught.value)


def test_a_valid_file_linked_from_elsewhere_is_refused_too(landing, tmp_path):
    """Before: it was loaded (and archived) as if delivered."""
    elsewhere = tmp_path / "elsewhere.txt"
    ts1 = landing / "logs" / KEY / "TS1.txt"
    elsewhere.write_bytes(ts1.read_bytes())
    _link(ts1, elsewhere)
    with pytest.raises(InputError, match=rf"^logs/{KEY}/TS1\.txt: {LINK_OUT}"):
        _read(landing)


def test_a_cohort_folder_or_profile_linked_out_is_refused(landing, tmp_path, credentials):
    outside = tmp_path / "outside"
    (landing / "logs" / KEY).rename(outside)
    (landing / "logs" / KEY).symlink_to(outside)
    with pytest.raises(InputError, match=rf"^logs/{KEY}/PS1\.txt: {LINK_OUT}"):
        _read(landing)
    (landing / "logs" / KEY).unlink()
    outside.rename(landing / "logs" / KEY)
    _link(landing / "profile" / "profile.txt", credentials)
    with pytest.raises(InputError, match=rf"^profile/profile\.txt: {LINK_OUT}"):
        _read(landing)


def test_links_that_stay_inside_the_landing_are_read(landing, tmp_path):
    folder = landing / "logs" / KEY
    shared = landing / "shared"
    shared.mkdir()
    (folder / "TS1.txt").rename(shared / "TS1.txt")
    (folder / "TS1.txt").symlink_to(Path("..") / ".." / "shared" / "TS1.txt")
    expected = (shared / "TS1.txt").read_bytes()
    assert LocalLanding(landing).read_cohort_file(KEY, "TS1.txt") == expected
    linked_root = tmp_path / "landing-link"  # a landing that is itself a link
    linked_root.symlink_to(landing)
    assert _read(linked_root).cycles["TS1"].mean.shape == (3,)


def test_only_regular_files_are_read(landing):
    """A FIFO named TS1.txt would block the load forever."""
    path = landing / "logs" / KEY / "TS1.txt"
    path.unlink()
    os.mkfifo(path)
    with pytest.raises(InputError, match=rf"^logs/{KEY}/TS1\.txt: not a regular file"):
        LocalLanding(landing).read_cohort_file(KEY, "TS1.txt")


def test_a_missing_profile_is_named_relative_to_the_landing(landing):
    """Before: a bare FileNotFoundError with the absolute path."""
    (landing / "profile" / "profile.txt").unlink()
    with pytest.raises(InputError) as caught:
        _read(landing)
    assert str(caught.value).startswith("profile/profile.txt: missing: ")
    assert str(landing) not in str(caught.value)


def test_a_file_gone_after_the_listing_is_named(landing):
    source = LocalLanding(landing)
    available = source.list_cohort(KEY).keys()
    (landing / "logs" / KEY / "SE.txt").unlink()
    with pytest.raises(InputError, match=rf"^logs/{KEY}/SE\.txt: missing: it was listed but"):
        read_delivery(
            KEY,
            available=available,
            read=lambda name: source.read_cohort_file(KEY, name),
            read_profile_bytes=source.read_profile,
        )


def test_both_layouts_side_by_side_name_their_rigs(tmp_path):
    """`logs/<cohort>/` is the default rig; `sites/<site>/<rig>/logs/<cohort>/` any other; one
    profile.txt for all. Names that cannot be a site or rig, and the default rig under sites/,
    are set aside with the reason; a rig folder without logs/ is no rig yet."""
    root = tmp_path / "landing"
    generate_cohort(root, KEY, cycles=3)
    north = Rig("north", "rig-1")
    fleet_logs = root / logs_dir(north)
    fleet_logs.mkdir(parents=True)
    (root / "logs" / KEY).rename(fleet_logs / KEY)
    generate_cohort(root, KEY, cycles=3)  # the default rig's own drop again
    (fleet_logs / KEY / "TS1.txt").write_bytes(b"fleet\n")
    (root / "sites" / "north" / "rig 2" / "logs").mkdir(parents=True)
    (root / "sites" / "default" / "default" / "logs").mkdir(parents=True)
    (root / "sites" / "south" / "rig-3").mkdir(parents=True)  # no logs/ yet

    landing = LocalLanding(root)
    found = landing.rig_folders()
    assert found.rigs == [DEFAULT_RIG, north]
    assert sorted(found.ignored) == ["sites/default/default", "sites/north/rig 2"]
    assert "not a valid rig name" in found.ignored["sites/north/rig 2"]
    assert landing.cohort_folders(north) == [KEY] == landing.cohort_folders()
    assert len(landing.list_cohort(KEY, north)) == 17
    assert landing.read_cohort_file(KEY, "TS1.txt", north) == b"fleet\n"
    assert landing.read_cohort_file(KEY, "TS1.txt") != b"fleet\n"
    assert landing.describe(KEY, north) == str(root / "sites/north/rig-1/logs" / KEY)
    assert landing.read_profile() == (root / "profile" / "profile.txt").read_bytes()


def test_a_fleet_landing_without_the_single_rig_folder_has_no_default_rig(tmp_path):
    root = tmp_path / "landing"
    (root / logs_dir(Rig("north", "rig-1")) / KEY).mkdir(parents=True)
    assert LocalLanding(root).rig_folders().rigs == [Rig("north", "rig-1")]
