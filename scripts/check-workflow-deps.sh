#!/usr/bin/env bash
# Architecture invariant: workflows do no I/O. Fails if sqlx, reqwest or hyper enters the
# workflow crate's (non-dev) dependency tree, if it depends on tokio directly, or if any path
# enables tokio's clock, network, file-system, process or runtime features for it. (Temporal's
# own protobuf types bring tokio with `sync` only; that much is the SDK's, and harmless.)
set -euo pipefail
fail=0
tree="$(cargo tree -p homeward-workflows -e normal --prefix none --format '{p}')"
bad="$(echo "$tree" | grep -E '^(sqlx|reqwest|hyper)( |-)' | sort -u || true)"
if [ -n "$bad" ]; then
  echo "homeward-workflows must not depend on I/O crates, found:" >&2; echo "$bad" >&2; fail=1
fi
direct="$(cargo tree -p homeward-workflows -e normal --depth 1 --prefix none --format '{p}' | grep -E '^tokio ' || true)"
if [ -n "$direct" ]; then
  echo "homeward-workflows must not depend on tokio directly" >&2; fail=1
fi
features="$(cargo tree -p homeward-workflows -e features -i tokio 2>/dev/null | grep -oE 'tokio feature "[a-z-]+"' | sort -u || true)"
clock="$(echo "$features" | grep -E '"(time|net|fs|process|rt|rt-multi-thread|full|io-util|signal)"' || true)"
if [ -n "$clock" ]; then
  echo "homeward-workflows pulls tokio features that allow I/O or a clock:" >&2; echo "$clock" >&2; fail=1
fi
[ "$fail" -eq 0 ] && echo "workflow crate: no sqlx, reqwest or hyper; tokio only as $(echo $features | tr '\n' ' ')"
exit "$fail"
