"""`energymobile generate | backfill | demo`: the command line a data engineer starts with."""

from __future__ import annotations

import argparse
import functools
import os
import sys
import time
import traceback
from datetime import datetime, timezone
from pathlib import Path

from energymobile.cli_errors import UsageError, explain, scrub_text
from energymobile.cohorts import (
    FIRST_COHORT,
    KEY_FORMAT,
    InvalidCohortKey,
    check_complete,
    cohort_keys,
    cohort_keys_between,
    parse_cohort_key,
)
from energymobile.dagster_home import setting_up, usable_path
from energymobile.settings import Settings, redact_url
from energymobile.stopping import Stopped, stop_on_signals

DEMO_COHORTS = 4
BACKFILL_WORKERS = 2
"""energymobile.backfill.DEFAULT_WORKERS (kept here so `--help` does not import dagster; tested)."""
DELIVERY_FORMATS = ("tsv", "csv", "jsonl")
"""energymobile.ingest.formats' names (kept here so `--help` does not import polars; tested)."""
DEBUG_HELP = "on a failure, also print the traceback"
STOPPED_BY_SIGNAL = 128
"""Exit statuses above this one say the command was stopped by signal (status - 128)."""


def main(argv: list[str] | None = None) -> int:
    """Run a command; a failure ends it with one line per problem on stderr (what, where, what
    to do) and a non-zero status, a traceback only with --debug. Ctrl-C or SIGTERM stops it
    at any point, with a line saying so (status 130 or 143)."""
    parser = _parser()
    args = parser.parse_args(argv)
    with stop_on_signals():
        try:
            return int(args.handler(args) or 0)
        except Stopped as stop:
            print(
                f"energymobile: stopped by {stop.name}; what was being written is discarded "
                "(every write replaces its target whole): run the command again to finish",
                file=sys.stderr,
                flush=True,
            )
            return stop.exit_code
        except Exception as error:
            if args.debug:
                print(scrub_text(traceback.format_exc()), file=sys.stderr)
            lines, status = explain(error)
            for line in lines:
                print(f"energymobile: {line}", file=sys.stderr, flush=True)
            return status


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="energymobile", description=__doc__)
    parser.add_argument("--debug", action="store_true", help=DEBUG_HELP)
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
        help="materialize the chain for cohorts of a site through Dagster, then the site's "
        "combined CSV once",
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
    back.add_argument(
        "--workers",
        type=int,
        default=BACKFILL_WORKERS,
        help=f"cohorts loaded at once, each in its own process (default {BACKFILL_WORKERS})",
    )
    back.set_defaults(handler=_backfill)

    demo = sub.add_parser("demo", help="generate sample cohorts and backfill them")
    demo.add_argument("--cohorts", type=_count, default=DEMO_COHORTS)
    demo.add_argument("--cycles", type=int, help="rows per cohort (default: window hours - 3)")
    _add_debug(demo)
    demo.set_defaults(handler=_demo, first=None, to=None, delivery_format=DELIVERY_FORMATS[0])
    return parser


def _add_range_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--cohorts", type=_count, help="this many cohorts (1 or more) from --from (or the first)"
    )
    parser.add_argument("--from", dest="first", help="first cohort key, e.g. 2008-03-26")
    parser.add_argument("--to", help="last cohort key (inclusive)")
    _add_debug(parser)


def _add_debug(parser: argparse.ArgumentParser) -> None:
    """--debug after the command too (`energymobile backfill --debug`); SUPPRESS keeps the
    main parser's value when it is not given here."""
    parser.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=DEBUG_HELP)


def _count(text: str) -> int:
    """A number of cohorts: a whole number, 1 or more."""
    try:
        count = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of cohorts") from None
    if count < 1:
        raise argparse.ArgumentTypeError(f"{count} cohorts: give 1 or more")
    return count


def selected_keys(args: argparse.Namespace, *, complete_only: bool = False) -> list[str]:
    """The cohort keys the arguments name, each checked (InvalidCohortKey says what is wrong);
    with `complete_only`, each cohort's window must have ended (only those can be loaded)."""
    if args.to and args.cohorts:
        raise UsageError("give --cohorts or --to, not both")
    for option, value in (("--from", args.first), ("--to", args.to)):
        try:
            if value:
                parse_cohort_key(value)
        except InvalidCohortKey as err:
            raise InvalidCohortKey(f"{option} {value}: {err}") from None
    first = args.first or FIRST_COHORT.strftime(KEY_FORMAT)
    keys = cohort_keys_between(first, args.to) if args.to else cohort_keys(first, args.cohorts or 1)
    if complete_only:
        now = datetime.now(timezone.utc).replace(tzinfo=None)
        for key in keys:
            check_complete(key, now)
    return keys


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
    `make dev` shares it with the CLI. Returns the folder itself; DAGSTER_HOME may name a
    link to it (dagster_home.py)."""
    from energymobile.instance import ensure_instance_yaml

    if not os.environ.get("DAGSTER_HOME"):
        os.environ["DAGSTER_HOME"] = str(settings.dagster_home)
    home = Path(os.environ["DAGSTER_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    os.environ["DAGSTER_HOME"] = str(usable_path(home))  # a link if the path holds '?' or '%'
    with setting_up(home):  # one CLI at a time: a new home's tables are created once
        ensure_instance_yaml(home)
    return home


def _backfill(args: argparse.Namespace) -> int:
    """Materialize on the persistent instance, so the UI shows these runs afterwards."""
    import dagster as dg

    from energymobile.backfill import CohortOutcome, materialize_cohorts, materialize_combined
    from energymobile.storage.exports import combined_csv_key

    settings = Settings.from_env()
    keys = selected_keys(args, complete_only=True)
    ensure_dagster_home(settings)

    def report(index: int, outcome: CohortOutcome) -> None:
        status = "ok" if outcome.success else f"FAILED: {outcome.failure}"
        print(f"[{index}/{len(keys)}] {outcome.key} {status} ({outcome.seconds:.1f} s)", flush=True)
        if args.debug and outcome.details:
            print(outcome.details, file=sys.stderr, flush=True)

    def note(line: str) -> None:
        print(line, flush=True)

    with dg.DagsterInstance.get() as instance:
        workers = getattr(args, "workers", BACKFILL_WORKERS)
        site = getattr(args, "site", "default")
        # The loads and, with --netcdf, the netCDF job: the same cohorts' runs, reported alike.
        materialize = functools.partial(
            materialize_cohorts,
            settings=settings,
            instance=instance,
            on_done=report,
            on_note=note,
            workers=workers,
            site=site,
        )
        outcomes = materialize(keys)
        loaded = [o.key for o in outcomes if o.success]
        combined_failed = False
        combined_key = combined_csv_key(site)
        if loaded:  # the site's combined CSV, once for all of them
            combined = materialize_combined(
                settings=settings, instance=instance, on_note=note, site=site
            )
            combined_failed = not combined.success
            status = "ok" if combined.success else f"FAILED: {combined.failure}"
            print(f"{combined_key} {status} ({combined.seconds:.1f} s)", flush=True)
            if args.debug and combined.details:
                print(combined.details, file=sys.stderr, flush=True)
        if getattr(args, "netcdf", False) and loaded:
            from energymobile.definitions import NETCDF_JOB

            print(f"netCDF files of {len(loaded)} cohorts:", flush=True)
            outcomes += materialize(loaded, job_name=NETCDF_JOB)
    _print_where(settings, site)
    failed = [o for o in outcomes if not o.success]
    if failed:
        print(f"{len(failed)} of {len(outcomes)} cohorts failed", file=sys.stderr)
    if combined_failed:
        print(f"{combined_key} was not rebuilt", file=sys.stderr)
    return 1 if failed or combined_failed else 0


def _demo(args: argparse.Namespace) -> int:
    args.first, args.to = None, None
    args.seed = 0
    print(f"energymobile demo: {args.cohorts} cohorts on the embedded default", flush=True)
    _generate(args)
    return _backfill(
        argparse.Namespace(first=None, to=None, cohorts=args.cohorts, debug=args.debug)
    )


def _print_where(settings: Settings, site: str) -> None:
    from energymobile.storage.exports import combined_csv_key
    from energymobile.storage.object_store import open_object_store

    store = open_object_store(settings.object_store)
    print("results:")
    print(f"  warehouse      {redact_url(settings.database_url)}  (view oil_well_hourly)")
    print(f"  combined CSV   {store.uri(combined_csv_key(site))}")
    print(f"  object store   {settings.object_store}")
    dagster_home = Path(os.environ.get("DAGSTER_HOME", settings.dagster_home)).resolve()
    print(f"  Dagster home   {dagster_home}  (open the UI: make dev)")


def entry() -> None:
    """The `energymobile` command. Once stopped by a signal, it leaves at once: worker threads
    a library left blocked on a stalled endpoint (boto3's transfer pool) would otherwise
    hold the process until their own timeouts. Nothing is lost by not waiting for them: every
    write replaces its target whole, and the run was marked failed."""
    status = main()
    if status > STOPPED_BY_SIGNAL:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)
    raise SystemExit(status)


if __name__ == "__main__":
    entry()
