#!/usr/bin/env bash
# Runs every test. Starts a throwaway PostgreSQL (initdb + pg_ctl in a temporary folder, on a
# private port) so each store test also runs against PostgreSQL; stops it on exit. Installs
# Debian's chromium and chromium-driver when absent, for the browser tests.
set -euo pipefail
cd "$(dirname "$0")/.."

find_pg_bin() {
  if command -v pg_ctl >/dev/null 2>&1 && command -v initdb >/dev/null 2>&1; then
    dirname "$(readlink -f "$(command -v pg_ctl)")"; return
  fi
  ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1
}

PG_BIN="$(find_pg_bin || true)"
if [ -z "$PG_BIN" ] || [ ! -x "$PG_BIN/initdb" ]; then
  bash scripts/apt-install.sh postgresql
  PG_BIN="$(find_pg_bin)"
fi

PG_DIR="$(mktemp -d /tmp/homeward-pg.XXXXXX)"
PG_PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
# initdb refuses to run as root: run the server as an unprivileged user.
RUN_AS=()
if [ "$(id -u)" -eq 0 ]; then
  PG_USER=postgres
  id "$PG_USER" >/dev/null 2>&1 || useradd --system --no-create-home "$PG_USER"
  chown "$PG_USER" "$PG_DIR"
  RUN_AS=(runuser -u "$PG_USER" --)
fi

stop_pg() {
  "${RUN_AS[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$PG_DIR"
}
trap stop_pg EXIT

"${RUN_AS[@]}" "$PG_BIN/initdb" -D "$PG_DIR/data" -U homeward --auth=trust -E UTF8 >/dev/null
"${RUN_AS[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/log" -w -o \
  "-p $PG_PORT -k $PG_DIR -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" start >/dev/null

export TEST_POSTGRES_URL="postgres://homeward@127.0.0.1:$PG_PORT/postgres"
echo "test PostgreSQL on 127.0.0.1:$PG_PORT"

# The web UI's browser tests (tests/e2e/support/browser.rs) drive Debian's Chromium through
# its chromedriver: install both when missing, like PostgreSQL above.
if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then
  bash scripts/apt-install.sh chromium chromium-driver
fi

cargo test --workspace --all-targets "$@"
bash scripts/check-bare-build.sh
bash scripts/check-workflow-deps.sh
bash scripts/check-devkit-deps.sh
