#!/usr/bin/env bash
# Build the product and install it as production does: the wheel, with exactly the locked
# dependencies, into a fresh virtual environment.
#
#   deploy/install.sh DIST_DIR VENV_DIR        (PYTHON=python3 by default; needs uv)
#
# The Dockerfile's build stage runs this script, and so does the wheel test
# (energymobile_tests/fixtures/wheel.py): the image and the test build the same way. Change the
# build here, not there.
set -euo pipefail
if (($# != 2)); then
  echo "usage: $0 DIST_DIR VENV_DIR" >&2
  exit 2
fi
project="$(cd "$(dirname "$0")/.." && pwd)"
dist="$1"
venv="$2"
python="${PYTHON:-python3}"

# The sdist, then the wheel built from the sdist (as a release does: nothing from the checkout
# that the sdist does not carry).
uv build --quiet --out-dir "$dist" "$project"
# The dependencies exactly as uv.lock pins them (with hashes), without the dev group or the
# project itself.
uv export --quiet --project "$project" --frozen --no-dev --no-emit-project \
  --format requirements.txt --output-file "$dist/requirements.txt"
uv venv --quiet --python "$python" "$venv"
# --compile-bytecode: the image runs as a user who cannot write here, so Python could never
# cache what it compiles; without it every process (the code server, each run worker) compiled
# every module it imports again, seconds of CPU at each start (issue 16).
uv pip install --quiet --compile-bytecode --python "$venv/bin/python" --require-hashes \
  -r "$dist/requirements.txt"
uv pip install --quiet --compile-bytecode --python "$venv/bin/python" --no-deps \
  "$dist"/energymobile-*.whl
uv pip check --python "$venv/bin/python"
