"""The GraphQL operations the tests and benchmarks send to a Dagster webserver (`dagster dev`, the
production topology), as the UI sends them: each operation defined once, with the fields any
caller reads, and sent through the server's own `graphql(query, variables)`."""

from __future__ import annotations

from typing import Any, Protocol


class GraphQL(Protocol):
    """A webserver's GraphQL endpoint: DagsterDev.graphql, ProductionDeployment.graphql."""

    def __call__(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]: ...


REPOSITORY = {"repositoryLocationName": "energymobile", "repositoryName": "__repository__"}
"""The code location's one repository (Definitions), as `[tool.dg]` names the location."""
PARTITION_TAG = "dagster/partition"
IN_PROGRESS = ["QUEUED", "NOT_STARTED", "STARTING", "STARTED", "CANCELING"]
TERMINAL = {"SUCCESS", "FAILURE", "CANCELED"}

RUN_FIELDS = """
runId jobName status creationTime startTime endTime stepKeysToExecute tags { key value }
assetSelection { path } assetMaterializations { assetKey { path } partition }
"""
RUNS = f"""
query Runs($filter: RunsFilter) {{
  runsOrError(filter: $filter) {{ ... on Runs {{ results {{ {RUN_FIELDS} }} }} }}
}}
"""
RUN = f"""
query Run($runId: ID!) {{
  runOrError(runId: $runId) {{ __typename ... on Run {{ {RUN_FIELDS} }} }}
}}
"""
RUN_EVENTS = """
query RunEvents($runId: ID!) {
  logsForRun(runId: $runId, limit: 2000) { ... on EventConnection { events {
    __typename
    ... on MessageEvent { timestamp message stepKey }
    ... on MaterializationEvent { assetKey { path } }
    ... on ExecutionStepFailureEvent { error { message } }
  } } }
}
"""
LAUNCH = """
mutation Launch($params: ExecutionParams!) {
  launchRun(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message }
    ... on InvalidSubsetError { message }
    ... on RunConfigValidationInvalid { errors { message } }
  }
}
"""
ADD_SITE = """
mutation AddSite($repo: RepositorySelector!, $site: String!) {
  addDynamicPartition(repositorySelector: $repo, partitionsDefName: "sites", partitionKey: $site) {
    __typename
  }
}
"""
ADDED = ("AddDynamicPartitionSuccess", "DuplicateDynamicPartitionError")
SENSORS = """
query Sensors($repo: RepositorySelector!) {
  sensorsOrError(repositorySelector: $repo) { ... on Sensors { results { id name } } }
}
"""
STOP_SENSOR = "mutation Stop($id: String!) { stopSensor(id: $id) { __typename } }"
TICKS = """
query Ticks($name: String!) { sensorOrError(sensorSelector: {repositoryName: "__repository__",
    repositoryLocationName: "energymobile", sensorName: $name}) {
  ... on Sensor { sensorState { ticks(limit: 500) { timestamp status skipReason runIds runKeys } } }
} }
"""


def runs(graphql: GraphQL, **runs_filter: Any) -> list[dict[str, Any]]:
    """The runs matching a RunsFilter (`runIds`, `statuses`, `tags`, ...), newest first."""
    answer = graphql(RUNS, {"filter": runs_filter or None})
    return answer["runsOrError"]["results"]


def run(graphql: GraphQL, run_id: str) -> dict[str, Any]:
    """One run's fields (RUN_FIELDS); fails the test if the server does not know it."""
    found = graphql(RUN, {"runId": run_id})["runOrError"]
    assert found["__typename"] == "Run", found
    return found


def run_events(graphql: GraphQL, run_id: str) -> list[dict[str, Any]]:
    """A run's event log (up to 2000 events), oldest first."""
    return graphql(RUN_EVENTS, {"runId": run_id})["logsForRun"]["events"]


def sensor_ticks(graphql: GraphQL, sensor: str) -> list[dict[str, Any]]:
    """A sensor's last 500 ticks, newest first."""
    return graphql(TICKS, {"name": sensor})["sensorOrError"]["sensorState"]["ticks"]


def stop_sensors(graphql: GraphQL) -> None:
    """Stop every sensor, as an operator can in the UI."""
    for sensor in graphql(SENSORS, {"repo": REPOSITORY})["sensorsOrError"]["results"]:
        stopped = graphql(STOP_SENSOR, {"id": sensor["id"]})["stopSensor"]
        assert stopped["__typename"] == "StopSensorMutationResult", (sensor, stopped)


def add_site(graphql: GraphQL, site: str) -> None:
    """Add `site` to the dynamic `sites` partitions (as the landing sensor or the CLI would);
    a site already there is fine."""
    added = graphql(ADD_SITE, {"repo": REPOSITORY, "site": site})
    assert added["addDynamicPartition"]["__typename"] in ADDED, added


def launch_run(graphql: GraphQL, selector: dict[str, Any], partition: str) -> str:
    """Launch a run of `selector` (a JobOrPipelineSelector) for one partition, as the UI's
    Launch or Materialize button does; its run id, or the test fails with the server's reason."""
    params = {
        "selector": selector,
        "executionMetadata": {"tags": [{"key": PARTITION_TAG, "value": partition}]},
    }
    launched = graphql(LAUNCH, {"params": params})["launchRun"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    return launched["run"]["runId"]
