#!/usr/bin/env bash
# Architecture invariant: workflows do no I/O. Fail if sqlx, reqwest or tokio ever enters the
# workflow crate's (non-dev) dependency tree, directly or transitively.
set -euo pipefail
tree="$(cargo tree -p homeward-workflows -e normal --prefix none --format '{p}')"
bad="$(echo "$tree" | grep -E '^(sqlx|reqwest|tokio|hyper|tonic)( |-)' || true)"
if [ -n "$bad" ]; then
  echo "homeward-workflows must not depend on I/O crates, found:" >&2
  echo "$bad" | sort -u >&2
  exit 1
fi
echo "workflow crate dependencies: no sqlx, reqwest, tokio, hyper or tonic"
