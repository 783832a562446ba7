"""End to end on the real `dagster dev` (fixture `dagster_dev`, energymobile_tests.fixtures).

A short cohort dropped into the landing folder must reach the warehouse and the object store
with no click; the webserver's GraphQL API must show lineage, checks, freshness, partitions and
metadata; headless Chromium must render the asset graph with every asset and the cohort's
plot. Every wait is bounded; the server and the browser are stopped after.
"""

from __future__ import annotations

import base64
import json
import shutil
import socket
import sqlite3
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import dagster as dg
import pytest

from energymobile.defs.partitions import partition_key
from energymobile.instance import PRODUCTION, ensure_instance_yaml
from energymobile.sample.generate import generate_cohort
from energymobile.storage.exports import COMBINED_KEY, cohort_csv_key, read_csv_export
from energymobile.storage.netcdf import netcdf_key
from energymobile.storage.object_store import open_object_store
from energymobile_tests.support.dagster_dev import DagsterDev
from energymobile_tests.support.graphql import runs
from energymobile_tests.support.polling import wait_for
from energymobile_tests.support.run_timeline import Timeline, load_timeline
from energymobile_tests.support.short_cohorts import SHORT_CYCLES

# The timeout is a backstop: start (90) + load (90) + automation (120) + UI.
pytestmark = [pytest.mark.ui, pytest.mark.timeout(420)]

KEY = "2008-03-26"
MISNAMED = "2008-04-01"
"""A folder the technicians got wrong: not the start of a cohort."""
LOAD_TIMEOUT_S = 90.0
AUTOMATION_TIMEOUT_S = 120.0
UI_TIMEOUT_S = 60.0
ASSETS = (
    "raw_logs",
    "raw_archive",
    "hourly_readings",
    "profile_merged",
    "mysql_tables",
    "s3_historical_csv",
    "combined_csv",
    "netcdf_arrays",
)
COMBINED = "combined_csv"
LINEAGE = {
    "raw_logs": set(),
    "raw_archive": set(),
    "hourly_readings": {"raw_logs"},
    "profile_merged": {"hourly_readings", "raw_logs"},
    "mysql_tables": {"profile_merged", "raw_logs"},
    "s3_historical_csv": {"mysql_tables"},
    COMBINED: {"s3_historical_csv"},
    "netcdf_arrays": {"raw_archive"},
}
GROUPS = {
    "raw_logs": "ingest",
    "raw_archive": "ingest",
    "hourly_readings": "transform",
    "profile_merged": "transform",
    "mysql_tables": "warehouse",
    "s3_historical_csv": "export",
    COMBINED: "export",
    "netcdf_arrays": "export",
}
CONDITIONS = {
    "raw_logs": None,  # the landing sensor requests it
    "raw_archive": None,  # written with raw_logs
    COMBINED: "once_exports_settle",
    "netcdf_arrays": "follows_archive",
}
DELIVERY_RULES = (
    "equal_row_counts",
    "within_cohort_window",
    "maintenance_shortfall",
    "profile_covers_cycles",
    "profile_codes_documented",
)
SENSORS = {"landing_sensor", "cohort_automation", "export_freshness_sensor"}


def warehouse_rows(dev: DagsterDev, key: str) -> int:
    path = dev.settings.database_url.removeprefix("sqlite:///")
    try:
        with sqlite3.connect(path) as conn:
            query = "SELECT COUNT(*) FROM sensor_hourly WHERE cohort = ?"
            return conn.execute(query, (key,)).fetchone()[0]
    except sqlite3.OperationalError:  # not created yet
        return 0


def landing_runs(dev: DagsterDev) -> list[dict[str, Any]]:
    return runs(dev.graphql, tags=[{"key": "dagster/sensor_name", "value": "landing_sensor"}])


@dataclass(frozen=True)
class Dropped:
    seconds: float
    """From the start of the drop until the test saw its rows, CSV and finished run."""
    timeline: Timeline
    """Where the time went, from Dagster's own records."""


@pytest.fixture(scope="module")
def dropped_cohort(dagster_dev: DagsterDev) -> Dropped:
    """Drop a cohort (and a misnamed folder) while dagster dev runs; how long until its rows
    are in the warehouse, its CSV in the object store and the sensor's run has finished."""
    started = time.monotonic()
    (dagster_dev.landing / "logs" / MISNAMED).mkdir(parents=True)
    folder = generate_cohort(dagster_dev.landing, KEY, cycles=SHORT_CYCLES)
    written = max(p.stat().st_mtime for p in folder.iterdir())
    store = open_object_store(dagster_dev.settings.object_store)

    def loaded() -> bool:
        return (
            warehouse_rows(dagster_dev, KEY) == SHORT_CYCLES
            and store.exists(cohort_csv_key(KEY))
            and any(r["status"] in ("SUCCESS", "FAILURE") for r in landing_runs(dagster_dev))
        )

    wait_for(f"cohort {KEY} loaded", loaded, LOAD_TIMEOUT_S, dagster_dev.log_tail)
    seconds = time.monotonic() - started
    [run] = landing_runs(dagster_dev)
    timeline = load_timeline(dagster_dev, run["runId"], written, "landing_sensor")
    # Neither the netCDF file nor the site's combined CSV is part of the load's job: the
    # automation sensor requests them once the run has archived and exported the cohort.
    wait_for(
        f"cohort {KEY}'s netCDF file and the combined CSV written by automation",
        lambda: store.exists(netcdf_key(KEY)) and store.exists(COMBINED_KEY),
        AUTOMATION_TIMEOUT_S,
        dagster_dev.log_tail,
    )
    return Dropped(seconds, timeline)


def test_dagster_yaml_and_its_production_variant_are_valid(tmp_path: Path):
    """The local file builds an instance (SQLite); the production one passes Dagster's own
    validation (its Postgres storage is not instantiated here)."""
    from dagster._core.instance.config import dagster_instance_config

    home = tmp_path / "dagster_home"
    ensure_instance_yaml(home)
    with dg.DagsterInstance.from_config(str(home)) as instance:
        queue = instance.get_concurrency_config().run_queue_config
        assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"
    per_cohort = {"key": "dagster/partition", "value": {"applyLimitPerUniqueValue": True}}
    assert {**per_cohort, "limit": 1} in queue.tag_concurrency_limits

    production = tmp_path / "production"
    ensure_instance_yaml(production, PRODUCTION)
    config, _ = dagster_instance_config(str(production))
    assert "postgres" in config["storage"]
    assert {**per_cohort, "limit": 1} in config["concurrency"]["runs"]["tag_concurrency_limits"]


def test_a_dropped_cohort_is_loaded_with_no_click(dagster_dev: DagsterDev, dropped_cohort):
    store = open_object_store(dagster_dev.settings.object_store)
    rows = read_csv_export(store.get_bytes(cohort_csv_key(KEY)))
    assert len(rows) == SHORT_CYCLES
    assert rows["cohort"].unique().tolist() == [KEY]
    assert warehouse_rows(dagster_dev, KEY) == SHORT_CYCLES
    combined = read_csv_export(store.get_bytes(COMBINED_KEY))
    assert combined["cohort"].tolist() == [KEY] * SHORT_CYCLES

    [run] = landing_runs(dagster_dev)
    tags = {t["key"]: t["value"] for t in run["tags"]}
    assert (run["jobName"], run["status"]) == ("cohort_pipeline", "SUCCESS")
    assert tags["dagster/partition"] == str(partition_key(KEY))
    assert tags["dagster/run_key"] == f"{KEY}:{tags['energymobile/landing_fingerprint']}"
    settle = dagster_dev.settings.landing_settle_seconds
    print(
        f"\ndropped cohort loaded to the CSV in {dropped_cohort.seconds:.1f} s as the test saw "
        f"it (settle time {settle} s)\n" + dropped_cohort.timeline.report("Dagster's records")
    )


ASSET_GRAPH = """
{ assetNodes {
    assetKey { path } groupName description
    owners { ... on TeamAssetOwner { team } }
    dependencyKeys { path }
    automationCondition { label }
    partitionStats { numMaterialized numPartitions }
    assetPartitionStatuses { ... on MultiPartitionStatuses { primaryDimensionName ranges {
        primaryDimStartKey primaryDimEndKey
        secondaryDim { ... on DefaultPartitionStatuses { materializedPartitions } } } }
      ... on DefaultPartitionStatuses { materializedPartitions } }
    assetChecksOrError { ... on AssetChecks { checks { name blocking } } }
} }
"""

SENSOR_STATES = """
{ sensorsOrError(repositorySelector:
      {repositoryName: "__repository__", repositoryLocationName: "energymobile"}) {
    ... on Sensors { results { name sensorState { status
        ticks(limit: 20) { status skipReason runKeys }
        requested: ticks(limit: 20, statuses: [SUCCESS]) { runKeys } } } } } }
"""
"""Each sensor's last ticks, and its last ticks that requested runs: the landing sensor ticks
every few seconds, so on a slow machine its request can be more than 20 ticks back."""


def test_graphql_shows_lineage_partitions_and_checks(dagster_dev: DagsterDev, dropped_cohort):
    nodes = {
        "/".join(n["assetKey"]["path"]): n for n in dagster_dev.graphql(ASSET_GRAPH)["assetNodes"]
    }
    assert set(nodes) == set(ASSETS)
    for name, node in nodes.items():
        assert {"/".join(d["path"]) for d in node["dependencyKeys"]} == LINEAGE[name]
        assert node["groupName"] == GROUPS[name]
        assert node["description"], name
        assert {"team": "data-engineering"} in node["owners"]
        condition = node["automationCondition"]
        assert (condition or {}).get("label") == CONDITIONS.get(name, "eager_any_cohort")
        if name == COMBINED:  # one file per site over its cohorts: partitioned by site
            assert node["partitionStats"] == {"numMaterialized": 1, "numPartitions": 1}
            assert node["assetPartitionStatuses"] == {"materializedPartitions": ["default"]}
            continue
        assert node["partitionStats"]["numMaterialized"] == 1
        assert node["partitionStats"]["numPartitions"] > 70  # every cohort since 2008
        # By cohort (the time dimension), then which sites have it: one site's status.
        statuses = node["assetPartitionStatuses"]
        assert statuses["primaryDimensionName"] == "cohort"
        assert {
            "primaryDimStartKey": KEY,
            "primaryDimEndKey": KEY,
            "secondaryDim": {"materializedPartitions": ["default"]},
        } in statuses["ranges"]
    checks = {
        n: {c["name"]: c["blocking"] for c in node["assetChecksOrError"]["checks"]}
        for n, node in nodes.items()
    }
    assert checks["raw_logs"] == dict.fromkeys(DELIVERY_RULES, True)
    assert checks["raw_archive"] == {"archive_complete": True}
    assert checks["mysql_tables"] == {"export_due": False, "warehouse_hours_contiguous": True}
    assert checks["s3_historical_csv"] == {"export_due": False}
    assert checks[COMBINED] == {"combined_matches_warehouse": False}


def test_graphql_shows_freshness_sensors_and_metadata(dagster_dev: DagsterDev, dropped_cohort):
    # Freshness: evaluated by its sensor; most cohorts since 2008 are overdue here, so failed.
    def freshness() -> dict[str, Any] | None:
        executions = dagster_dev.graphql(
            """{ assetCheckExecutions(assetKey: {path: ["s3_historical_csv"]},
                   checkName: "export_due", limit: 1) {
                 status evaluation { severity description } } }"""
        )["assetCheckExecutions"]
        done = [e for e in executions if e["status"] in ("SUCCEEDED", "FAILED")]
        return done[0] if done else None

    execution = wait_for("export_due evaluated", freshness, UI_TIMEOUT_S, dagster_dev.log_tail)
    assert execution["status"] == "FAILED"
    assert execution["evaluation"]["severity"] == "ERROR"
    assert execution["evaluation"]["description"].startswith("Overdue: cohort ")

    # Sensors: all three on by default; the landing sensor's ticks say what it did and why not.
    sensors = dagster_dev.graphql(SENSOR_STATES)["sensorsOrError"]["results"]
    assert {s["name"]: s["sensorState"]["status"] for s in sensors} == dict.fromkeys(
        SENSORS, "RUNNING"
    )
    landing = next(s for s in sensors if s["name"] == "landing_sensor")["sensorState"]
    ticks = landing["ticks"]
    assert any(k.startswith(f"{KEY}:") for t in landing["requested"] for k in t["runKeys"])
    assert any(f"ignored folder '{MISNAMED}'" in (t["skipReason"] or "") for t in ticks)

    # Metadata of the cohort's export: row count, column schema, preview and plot.
    [node] = dagster_dev.graphql(
        """query($key: String!) { assetNodes(assetKeys: [{path: ["s3_historical_csv"]}]) {
             assetMaterializations(partitions: [$key], limit: 1) { metadataEntries {
               label ... on IntMetadataEntry { intValue }
               ... on MarkdownMetadataEntry { mdStr }
               ... on TableSchemaMetadataEntry { schema { columns { name } } } } } } }""",
        {"key": str(partition_key(KEY))},
    )["assetNodes"]
    entries = {e["label"]: e for e in node["assetMaterializations"][0]["metadataEntries"]}
    assert entries["dagster/row_count"]["intValue"] == SHORT_CYCLES
    columns = [c["name"] for c in entries["dagster/column_schema"]["schema"]["columns"]]
    assert columns[:6] == ["site", "rig", "cohort", "cycle", "date_time", "cumulative_minutes"]
    assert entries["preview"]["mdStr"].startswith("| site")
    assert "](data:image/png;base64," in entries["plot"]["mdStr"]


class Browser:
    """Debian's headless chromium, driven through chromedriver's W3C WebDriver HTTP API with the
    standard library only (no Selenium)."""

    ARGS = (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--window-size=1600,1000",
    )

    def __init__(self, profile: Path) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        self.base = f"http://127.0.0.1:{port}"
        self.driver = subprocess.Popen(
            [str(shutil.which("chromedriver")), f"--port={port}"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        options = {
            "binary": shutil.which("chromium"),
            "args": [*self.ARGS, f"--user-data-dir={profile}"],
        }
        capabilities = {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": options}}
        try:
            wait_for("chromedriver answering", self._ready, 20)
            self.session = self._call("POST", "/session", {"capabilities": capabilities})[
                "sessionId"
            ]
        except BaseException:
            self._stop_driver()
            raise

    def _ready(self) -> bool:
        try:
            return bool(self._call("GET", "/status").get("ready"))
        except OSError:
            return False

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            self.base + path, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.load(response)["value"]

    def do(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        return self._call(method, f"/session/{self.session}{path}", body)

    def open(self, url: str) -> None:
        self.do("POST", "/url", {"url": url})

    def script(self, source: str) -> Any:
        return self.do("POST", "/execute/sync", {"script": source, "args": []})

    def elements(self, xpath: str) -> list[str]:
        found = self.do("POST", "/elements", {"using": "xpath", "value": xpath})
        return [next(iter(e.values())) for e in found]

    def click(self, element: str) -> None:
        self.do("POST", f"/element/{element}/click", {})

    def alt(self, key: str) -> None:
        alt = "\ue00a"
        actions = [
            {"type": "keyDown", "value": alt},
            {"type": "keyDown", "value": key},
            {"type": "keyUp", "value": key},
            {"type": "keyUp", "value": alt},
        ]
        self.do("POST", "/actions", {"actions": [{"type": "key", "id": "kb", "actions": actions}]})

    def dismiss_community_dialog(self) -> None:
        for button in self.elements("//button[normalize-space()='Skip']"):
            self.click(button)

    def screenshot(self, path: Path) -> None:
        path.write_bytes(base64.b64decode(self.do("GET", "/screenshot")))

    def close(self) -> None:
        try:
            self.do("DELETE", "")  # quits chromium
        finally:
            self._stop_driver()

    def _stop_driver(self) -> None:
        self.driver.terminate()
        try:
            self.driver.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.driver.kill()
            self.driver.wait(timeout=10)


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Browser]:
    for tool in ("chromium", "chromedriver"):
        if not shutil.which(tool):
            pytest.fail(f"{tool} is not installed: run scripts/bootstrap.sh test")
    chrome = Browser(tmp_path / "chromium-profile")
    try:
        yield chrome
    finally:
        chrome.close()


GRAPH_NODE_NAMES = """
return Array.from(document.querySelectorAll('foreignObject'))
  .map(node => node.textContent.trim()).filter(text => text.length > 0);
"""


def test_the_asset_graph_page_renders_every_asset(
    dagster_dev: DagsterDev, browser: Browser, tmp_path: Path
):
    """The global lineage page draws one node per group first; "expand all groups" (Alt+E)
    then draws every asset as a graph node (SVG foreignObjects), not only as list items."""
    browser.open(f"{dagster_dev.url}/asset-groups")

    def graph_text() -> str:
        return "\n".join(browser.script(GRAPH_NODE_NAMES))

    wait_for(
        "the lineage graph with its four groups",
        lambda: all(g in graph_text() for g in set(GROUPS.values())),
        UI_TIMEOUT_S,
    )
    browser.dismiss_community_dialog()

    def expanded() -> bool:
        if all(a in graph_text() for a in ASSETS):
            return True
        if not any(a in graph_text() for a in ASSETS):
            browser.alt("e")  # "Expand all groups"
            time.sleep(2)
        return False

    wait_for("every asset node in the graph", expanded, UI_TIMEOUT_S)
    browser.screenshot(tmp_path / "asset_graph.png")


def test_the_cohort_plot_is_an_image_in_the_ui(
    dagster_dev: DagsterDev, dropped_cohort, browser: Browser, tmp_path: Path
):
    selected = quote(str(partition_key(KEY)))
    browser.open(f"{dagster_dev.url}/assets/s3_historical_csv?view=partitions&partition={selected}")
    show = (
        "//tr[.//*[normalize-space(text())='plot']]//*[normalize-space(text())='[Show Markdown]']"
    )
    [button] = wait_for("the plot's metadata row", lambda: browser.elements(show), UI_TIMEOUT_S)
    browser.dismiss_community_dialog()
    browser.click(button)

    def plot_width() -> int:
        return browser.script(
            "return Math.max(0, ...Array.from(document.images)"
            ".filter(i => i.src.startsWith('data:image/png;base64,')).map(i => i.naturalWidth));"
        )

    assert wait_for("the plot shown as an image", plot_width, UI_TIMEOUT_S) > 100
    browser.screenshot(tmp_path / "cohort_plot.png")
