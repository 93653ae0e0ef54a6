# Keel's two commands (see README.md):
#   make run   — set up what is missing, fetch the default model, build, run the demo
#   make test  — the whole suite (formatting, lints, unit, property and end-to-end tests)
#
# Builds share one release-profile target directory outside the clone, so llama.cpp (about
# 8 minutes cold on 2 cores) is compiled once per machine, not once per clone or profile.

SHELL := /bin/bash
export CARGO_TARGET_DIR ?= $(HOME)/.cache/keel/target
CARGO ?= cargo
KEEL := $(CARGO_TARGET_DIR)/release/keel

.PHONY: run test setup test-setup build model lint unit bindings serve bench clean

run: build model
	$(KEEL) demo

test: build model lint unit bindings serve

setup:
	@.ci/ensure-system-deps

# What the bindings and server tests need besides the build (venv, npm, JDK, JNA, Chromium).
test-setup:
	@.ci/ensure-system-deps --for-tests

build: setup
	$(CARGO) build --release --locked -p keel-cli

# Fetch (once) and verify the default model into the user's data directory.
model: build
	$(KEEL) model fetch

lint: setup
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --release --locked --workspace --all-targets -- -D warnings

unit: setup
	$(CARGO) test --release --locked --workspace --no-fail-fast

# Kotlin (JVM), Python (wheel) and Swift (generation) bindings on the real model.
bindings: build model test-setup
	.ci/test-bindings

# `keel serve`: the openai package, the chat page in headless Chromium, load, shutdown.
serve: build model test-setup
	KEEL_BIN=$(KEEL) .ci/test-serve

bench: build model
	$(KEEL) bench --json

clean:
	$(CARGO) clean
