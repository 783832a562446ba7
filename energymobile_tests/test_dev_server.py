"""`make mysql-dev` / `make pg-dev`: a developer's throwaway local server until Ctrl-C, reachable
with the URL it prints, and gone (with its data) when stopped."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from energymobile.settings import DATABASE_URL_VAR
from energymobile_tests.support import REPO_ROOT

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("server", ["mariadb", "postgres"])
def test_the_dev_server_answers_on_the_printed_url_and_is_gone_after_ctrl_c(server):
    process = subprocess.Popen(
        [sys.executable, "-m", "energymobile_tests.support.dev_server", server],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        printed = []
        for line in process.stdout:  # ends if the process exits without printing the URL
            printed.append(line)
            if f"export {DATABASE_URL_VAR}=" in line:
                break
        output = "".join(printed)
        url = re.search(rf"export {DATABASE_URL_VAR}='([^']+)'", output)
        workdir = re.search(r"data in (\S+) \(deleted on exit\)", output)
        assert url and workdir, output
        engine = create_engine(url.group(1))
        try:
            with engine.connect() as conn:
                assert conn.execute(text("SELECT 1")).scalar_one() == 1
        finally:
            engine.dispose()
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=90) == 0
        assert not Path(workdir.group(1)).exists()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
