"""`energymobile generate | backfill | demo`: the command line a data engineer starts with."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from energymobile.cohorts import FIRST_COHORT, KEY_FORMAT, cohort_keys, cohort_keys_between
from energymobile.settings import Settings, redact_url

DEMO_COHORTS = 4
DELIVERY_FORMATS = ("tsv", "csv", "jsonl")
"""energymobile.ingest.formats' names (kept here so `--help` does not import polars; tested)."""


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    return int(args.handler(args) or 0)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="energymobile", description=__doc__)
    sub = parser.add_subparsers(required=True, metavar="COMMAND")

    gen = sub.add_parser("generate", help="write sample cohorts into ENERGYMOBILE_LANDING")
    _add_range_arguments(gen)
    gen.add_argument("--cycles", type=int, help="rows per cohort (default: window hours - 3)")
    gen.add_argument("--seed", type=int, default=0)
    gen.add_argument(
        "--format",
        dest="delivery_format",
        choices=DELIVERY_FORMATS,
        default=DELIVERY_FORMATS[0],
        help="delivery format: tsv (17 <CODE>.txt, the rig's), csv (17 <CODE>.csv with a "
        "header) or jsonl (one cycles.jsonl); see docs/formats.md",
    )
    gen.set_defaults(handler=_generate)

    back = sub.add_parser(
        "backfill",
        help="materialize the chain for cohorts through Dagster, then the combined CSV once",
    )
    _add_range_arguments(back)
    back.add_argument(
        "--site",
        default="default",
        help="load this site's rigs (landing sites/<site>/<rig>/logs/; default: the site "
        "'default', i.e. logs/ and sites/default/*/); one run per cohort loads every rig of "
        "the site that delivered it (docs/fleet.md)",
    )
    back.add_argument(
        "--netcdf",
        action="store_true",
        help="then write each loaded cohort's full-resolution netCDF file (the netcdf_export "
        "job; about 13 s a full-size cohort)",
    )
    back.set_defaults(handler=_backfill)

    demo = sub.add_parser("demo", help="generate sample cohorts and backfill them")
    demo.add_argument("--cohorts", type=int, default=DEMO_COHORTS)
    demo.add_argument("--cycles", type=int, help="rows per cohort (default: window hours - 3)")
    demo.set_defaults(handler=_demo, first=None, to=None, delivery_format=DELIVERY_FORMATS[0])
    return parser


def _add_range_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--cohorts", type=int, help="this many cohorts from --from (or the first)")
    parser.add_argument("--from", dest="first", help="first cohort key, e.g. 2008-03-26")
    parser.add_argument("--to", help="last cohort key (inclusive)")


def selected_keys(args: argparse.Namespace) -> list[str]:
    first = args.first or FIRST_COHORT.strftime(KEY_FORMAT)
    if args.to:
        return cohort_keys_between(first, args.to)
    return cohort_keys(first, args.cohorts or 1)


def _generate(args: argparse.Namespace) -> int:
    """Write into the landing folder; for an s3:// landing, write to a scratch folder and
    upload each cohort file by file (the complete drop is what the landing sensor waits for)."""
    import tempfile

    from energymobile.sample.generate import generate_cohort
    from energymobile.storage.object_store import open_object_store

    settings = Settings.from_env()
    remote = settings.landing.startswith("s3://")
    with tempfile.TemporaryDirectory() as scratch:
        landing = Path(scratch) if remote else Path(settings.landing)
        for key in selected_keys(args):
            started = time.perf_counter()
            folder = generate_cohort(
                landing,
                key,
                cycles=args.cycles,
                seed=args.seed,
                delivery_format=args.delivery_format,
            )
            where = str(folder)
            if remote:
                store = open_object_store(settings.landing)
                for path in sorted(p for p in landing.rglob("*") if p.is_file()):
                    store.put_file(path.relative_to(landing).as_posix(), path)
                    path.unlink()
                where = f"{settings.landing.rstrip('/')}/logs/{key}/"
            seconds = time.perf_counter() - started
            print(f"generated {key} in {seconds:.1f} s -> {where}", flush=True)
    return 0


def ensure_dagster_home(settings: Settings) -> Path:
    """Use DAGSTER_HOME if set; otherwise our default beside the data. A home without a
    dagster.yaml gets the package's own (energymobile/instance: run limits per cohort), so
    `make dev` shares it with the CLI."""
    from energymobile.instance import ensure_instance_yaml

    if not os.environ.get("DAGSTER_HOME"):
        os.environ["DAGSTER_HOME"] = str(settings.dagster_home)
    home = Path(os.environ["DAGSTER_HOME"])
    ensure_instance_yaml(home)
    return home


def _backfill(args: argparse.Namespace) -> int:
    """Materialize on the persistent instance, so the UI shows these runs afterwards."""
    import dagster as dg

    from energymobile.backfill import CohortOutcome, materialize_cohorts, materialize_combined
    from energymobile.storage.exports import COMBINED_KEY

    settings = Settings.from_env()
    keys = selected_keys(args)
    ensure_dagster_home(settings)

    def report(index: int, outcome: CohortOutcome) -> None:
        status = "ok" if outcome.success else f"FAILED: {outcome.failure}"
        print(f"[{index}/{len(keys)}] {outcome.key} {status} ({outcome.seconds:.1f} s)", flush=True)

    with dg.DagsterInstance.get() as instance:
        site = getattr(args, "site", "default")
        outcomes = materialize_cohorts(
            keys, settings=settings, instance=instance, on_done=report, site=site
        )
        loaded = [o.key for o in outcomes if o.success]
        combined_failed = False
        if loaded:  # the combined CSV, once for all of them
            combined = materialize_combined(settings=settings, instance=instance)
            combined_failed = not combined.success
            status = "ok" if combined.success else f"FAILED: {combined.failure}"
            print(f"{COMBINED_KEY} {status} ({combined.seconds:.1f} s)", flush=True)
        if getattr(args, "netcdf", False) and loaded:
            from energymobile.definitions import NETCDF_JOB

            print(f"netCDF files of {len(loaded)} cohorts:", flush=True)
            outcomes += materialize_cohorts(
                loaded,
                settings=settings,
                instance=instance,
                on_done=report,
                job_name=NETCDF_JOB,
                site=site,
            )
    _print_where(settings)
    failed = [o for o in outcomes if not o.success]
    if failed:
        print(f"{len(failed)} of {len(outcomes)} cohorts failed", file=sys.stderr)
    if combined_failed:
        print(f"{COMBINED_KEY} was not rebuilt", file=sys.stderr)
    return 1 if failed or combined_failed else 0


def _demo(args: argparse.Namespace) -> int:
    args.first, args.to = None, None
    args.seed = 0
    print(f"energymobile demo: {args.cohorts} cohorts on the embedded default", flush=True)
    _generate(args)
    return _backfill(argparse.Namespace(first=None, to=None, cohorts=args.cohorts))


def _print_where(settings: Settings) -> None:
    from energymobile.storage.exports import COMBINED_KEY
    from energymobile.storage.object_store import open_object_store

    store = open_object_store(settings.object_store)
    print("results:")
    print(f"  warehouse      {redact_url(settings.database_url)}  (view oil_well_hourly)")
    print(f"  combined CSV   {store.uri(COMBINED_KEY)}")
    print(f"  object store   {settings.object_store}")
    print(
        f"  Dagster home   {os.environ.get('DAGSTER_HOME', settings.dagster_home)}"
        "  (open the UI: make dev)"
    )


if __name__ == "__main__":
    raise SystemExit(main())
