#!/usr/bin/env bash
# Regenerate the default bundle and its development root from rules.toml (and classifier.json,
# whose weights `keel bundle sign` inlines into the signed payload).
#
#   core/bundles/default/regenerate.sh [VERSION]
#
# A fresh development key is generated in a temporary directory, used to sign root.json (marked
# "development": true) and bundle.json, and then deleted: no private key for the default bundle
# is ever committed, and the tooling (`keel bundle verify`, `keel bundle inspect`, `keel gate`)
# shows that the root is a development root. Ship your own root and bundle instead (README).
# VERSION must be higher than the committed bundle's version (anti-rollback on devices).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../../.." && pwd)"
version="${1:?usage: regenerate.sh VERSION (higher than the current bundle version)}"
keel="${KEEL_BIN:-$repo/target/release/keel}"
[ -x "$keel" ] || keel="${CARGO_TARGET_DIR:-$repo/target}/release/keel"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
# The learned classifier (ADR 0040, 0041): retrained from the shared corpora when they are
# present (fixed seed: the same data gives the same bytes), else the committed model is kept.
data="${KEEL_SAFETY_DATA:-$repo/../shared/data}"
if [ -d "$data/safety" ]; then
  "$keel" bundle train-classifier --data "$data" --out "$here/classifier.json"
else
  echo "no safety data at $data: keeping the committed classifier.json"
fi
"$keel" bundle keygen --out "$tmp" --name dev
"$keel" bundle root --key "$tmp/dev.pub" --sign-with "$tmp/dev.key" --threshold 1 --version 1 \
  --expires 2036-01-01 --development --out "$here/root.json"
"$keel" bundle sign --rules "$here/rules.toml" --key "$tmp/dev.key" --version "$version" \
  --issued 2026-11-01 --expires 2036-01-01 --out "$here/bundle.json"
"$keel" bundle verify --root "$here/root.json" "$here/bundle.json"
echo "Rebuild Keel: bundle.json and root.json are compiled in (include_bytes!)."
