"""A throwaway local MariaDB or PostgreSQL for a developer, until Ctrl-C (`make mysql-dev`,
`make pg-dev`): the tests' own servers, so a local run sees the same privileges as the tests.

    python -m energymobile_tests.support.dev_server mariadb|postgres [--port N]

It prints the ENERGYMOBILE_DATABASE_URL to export in another shell; its data goes with it.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time

from energymobile.settings import DATABASE_URL_VAR
from energymobile_tests.support.mariadb import start_mariadb
from energymobile_tests.support.postgres import start_postgres
from energymobile_tests.support.servers import ThrowawayServer

SERVERS = {"mariadb": ("MariaDB", start_mariadb), "postgres": ("PostgreSQL", start_postgres)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m energymobile_tests.support.dev_server")
    parser.add_argument("server", choices=sorted(SERVERS))
    parser.add_argument("--port", type=int, help="TCP port on 127.0.0.1 (default: a free one)")
    args = parser.parse_args(argv)
    product, start = SERVERS[args.server]
    return serve_until_interrupted(start(port=args.port), product)


def serve_until_interrupted(server: ThrowawayServer, product: str) -> int:
    """Print how to reach the server, keep it running until Ctrl-C or SIGTERM, then stop it
    (which deletes its data)."""
    # Ctrl-C and SIGTERM both stop it cleanly, whatever this process inherited: a command
    # started in the background by a shell without job control begins with SIGINT ignored.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, signal.default_int_handler)
    try:
        print(
            f"{product} on {server.host}:{server.port}, data in {server.workdir} (deleted on exit)"
        )
        print(f"user {server.user!r}, database {server.database!r}; in another shell:")
        print(f"  export {DATABASE_URL_VAR}='{server.url()}'", flush=True)
        print("Ctrl-C stops it.", flush=True)
        while server.running:
            time.sleep(1)
        print(f"{product} exited on its own:\n{server.error_log_tail()}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        server.stop()


if __name__ == "__main__":
    raise SystemExit(main())
