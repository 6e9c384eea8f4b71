#!/usr/bin/env bash
# Rebuilds api/assets/homeward.css from ui/homeward.scss with the pinned GOV.UK Frontend and
# Dart Sass of ui/package.json (npm registry). The CSS is committed and compiled into the binary
# (include_str!), so neither `make run` nor `make test` needs Node.js; run this only after
# changing ui/homeward.scss or the pins.
set -euo pipefail
cd "$(dirname "$0")/.."
npm install --prefix ui --no-audit --no-fund --ignore-scripts >/dev/null
( cd ui && npx sass --pkg-importer=node --style=compressed --no-source-map homeward.scss ../api/assets/homeward.css )
echo "api/assets/homeward.css: $(wc -c < api/assets/homeward.css) bytes"
