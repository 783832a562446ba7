#!/usr/bin/env bash
# Install what energymobile needs on a fresh Debian machine, then the locked Python packages.
#   scripts/bootstrap.sh          build dependencies + Python environment (enough for the demo)
#   scripts/bootstrap.sh test     also the servers and browser the tests start (MariaDB, PostgreSQL, Chromium)
# Idempotent and quick when everything is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

want=(pkg-config default-libmysqlclient-dev build-essential)
if [[ "${1:-}" == "test" ]]; then
  want+=(mariadb-server mariadb-client postgresql redis-server chromium chromium-driver)
fi

missing=()
for pkg in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  echo "bootstrap: installing ${missing[*]}" >&2
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v uv >/dev/null 2>&1; then
  echo "bootstrap: installing uv" >&2
  python3 -m pip install --quiet --user uv 2>/dev/null || python3 -m pip install --quiet uv
  export PATH="$HOME/.local/bin:$PATH"
fi
uv sync --frozen --quiet
