#!/usr/bin/env bash
# Builds libkeel_ffi.so for the Android ABIs with cargo-ndk into app/src/main/jniLibs and
# generates the Kotlin bindings into app/build/generated/uniffi/kotlin (both gitignored).
# Needs: the Android NDK (ANDROID_NDK_HOME), `cargo install cargo-ndk`, and
# `rustup target add aarch64-linux-android x86_64-linux-android`.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
cd "$ROOT"
cargo ndk -t arm64-v8a -t x86_64 --platform 28 -o "$HERE/app/src/main/jniLibs" \
    build --release -p keel-ffi
# Generate from the host build (same code, same metadata) with the in-workspace bindgen.
cargo build --release -p keel-ffi
rm -rf "$HERE/app/build/generated/uniffi/kotlin"
"$CARGO_TARGET_DIR/release/uniffi-bindgen" generate --no-format \
    --library "$CARGO_TARGET_DIR/release/libkeel_ffi.so" \
    --language kotlin --out-dir "$HERE/app/build/generated/uniffi/kotlin"
echo "jniLibs and Kotlin bindings are in place; now: ./gradlew :app:installDebug"
