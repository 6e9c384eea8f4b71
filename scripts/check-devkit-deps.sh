#!/usr/bin/env bash
# Architecture invariant: fakes stay out of production. The devkit (partner sandbox, in-process
# ledger, the benchmark's twin) may be used by the `homeward` binary, never by the crates a
# production worker or API is made of. Fails if homeward-devkit enters their (non-dev)
# dependency tree.
set -euo pipefail
fail=0
for crate in homeward-workflows homeward-activities homeward-worker homeward-api; do
  if cargo tree -p "$crate" -e normal --prefix none --format '{p}' | grep -q '^homeward-devkit '; then
    echo "$crate must not depend on homeward-devkit (fakes stay out of production)" >&2; fail=1
  fi
done
[ "$fail" -eq 0 ] && echo "production crates: no homeward-devkit"
exit "$fail"
