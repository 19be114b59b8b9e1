#!/usr/bin/env bash
# Rebuilds trading/static/vendor/sm-crypto-v2.min.js: the SM2/SM3/SM4 code the room page uses to
# sign and re-wrap keys in the bidder's browser. Vendored (not fetched at run time) so that the
# platform needs no CDN and the code bidders run is the code in this repository.
# Needs node and npm; versions are pinned here and named in the file's first line.
set -euo pipefail
out="$(cd "$(dirname "$0")/../.." && pwd)/trading/static/vendor"
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
cd "$work"
npm init -y >/dev/null
npm install --no-audit --no-fund sm-crypto-v2@1.15.1 @noble/curves@1.9.7 @noble/hashes@1.8.0 @noble/ciphers@1.3.0 esbuild@0.28.2 >/dev/null
echo 'export { sm2, sm3, sm4 } from "sm-crypto-v2";' > entry.mjs
npx esbuild entry.mjs --bundle --minify --format=iife --global-name=SmCryptoV2 --target=es2020 \
  --legal-comments=none --outfile=bundle.js
{
  echo "/*! sm-crypto-v2 1.15.1 (MIT, github.com/Cubelrti/sm-crypto-v2) with @noble/curves 1.9.7, @noble/hashes 1.8.0, @noble/ciphers 1.3.0 (MIT, Paul Miller). Bundled by infra/vendor/build-sm-crypto.sh; licences in sm-crypto-v2.LICENSE.txt */"
  cat bundle.js
} > "$out/sm-crypto-v2.min.js"
