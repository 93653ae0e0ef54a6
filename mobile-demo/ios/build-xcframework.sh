#!/usr/bin/env bash
# Builds the Rust library for iOS (device + simulator) and macOS, packs it as
# build/KeelFFI.xcframework with the generated C header and module map, and writes the Swift
# bindings to Sources/Keel/Keel.swift. Run on a Mac with Xcode and Rust:
#   rustup target add aarch64-apple-ios aarch64-apple-ios-sim aarch64-apple-darwin
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
T=$CARGO_TARGET_DIR
cd "$ROOT"
for target in aarch64-apple-ios aarch64-apple-ios-sim aarch64-apple-darwin; do
    # A static library for the xcframework (the crate's default types are cdylib + rlib).
    cargo rustc --release -p keel-ffi --lib --target "$target" --crate-type staticlib
done
cargo build --release -p keel-ffi   # host build for the bindgen binary
GEN=$HERE/build/gen
rm -rf "$GEN" "$HERE/build/KeelFFI.xcframework"
"$T/release/uniffi-bindgen" generate --library "$T/release/libkeel_ffi.dylib" \
    --language swift --out-dir "$GEN"
mkdir -p "$GEN/headers"
cp "$GEN/KeelFFI.h" "$GEN/headers/"
cp "$GEN/KeelFFI.modulemap" "$GEN/headers/module.modulemap"
xcodebuild -create-xcframework \
    -library "$T/aarch64-apple-ios/release/libkeel_ffi.a" -headers "$GEN/headers" \
    -library "$T/aarch64-apple-ios-sim/release/libkeel_ffi.a" -headers "$GEN/headers" \
    -library "$T/aarch64-apple-darwin/release/libkeel_ffi.a" -headers "$GEN/headers" \
    -output "$HERE/build/KeelFFI.xcframework"
cp "$GEN/Keel.swift" "$HERE/Sources/Keel/Keel.swift"
echo "build/KeelFFI.xcframework and Sources/Keel/Keel.swift are in place; open Package.swift in Xcode"
