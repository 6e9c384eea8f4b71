#!/usr/bin/env bash
# Proves the build needs nothing a newcomer's machine lacks (issue: "a bare machine cannot
# build"): no protoc and no system protobuf package. Run by `make test`, so CI checks it.
#  1. .cargo/config.toml forces PROTOC to scripts/no-protoc, which refuses to run: a build
#     script that reached for protoc would fail the build even where one is installed by hand.
#  2. Every workspace crate's dependency graph compiles Temporal's protos with protox
#     (`temporalio-protos/vendored-protox`), so `cargo build -p <crate>` alone works too.
set -euo pipefail
cd "$(dirname "$0")/.."
fail=0
if ! grep -Eq '^PROTOC = \{ value = "scripts/no-protoc", relative = true, force = true \}' .cargo/config.toml; then
  echo "check-bare-build: .cargo/config.toml must force PROTOC to scripts/no-protoc" >&2; fail=1
fi
if scripts/no-protoc --version >/dev/null 2>&1; then
  echo "check-bare-build: scripts/no-protoc must refuse to run" >&2; fail=1
fi
for crate in homeward homeward-workflows homeward-activities homeward-worker homeward-api homeward-devkit; do
  tree="$(cargo tree -p "$crate" -e features -i temporalio-protos)"
  if ! grep -q 'temporalio-protos feature "vendored-protox"' <<<"$tree"; then
    echo "check-bare-build: $crate builds temporalio-protos without vendored-protox (it would need protoc)" >&2
    fail=1
  fi
done
[ "$fail" -eq 0 ] && echo "bare build: no protoc, no system protobuf; protos compiled by protox in every crate"
exit "$fail"
