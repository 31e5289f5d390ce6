#!/usr/bin/env bash
# Re-vendor the GraphiQL page's third-party browser builds from the npm registry.
#
# Fetches the pinned package versions with `npm pack` into a temp dir, checks
# each tarball against the registry's dist.integrity, copies the four minified
# files into this directory unchanged (license headers intact), prints their
# sha256 and regenerates SHA256SUMS.
#
# To update: bump the versions below, run this script, check the page still
# renders, and update README.md.
set -euo pipefail

GRAPHIQL_VERSION="3.9.0"   # last major shipping the UMD graphiql.min.js/css
REACT_VERSION="18.3.1"
REACT_DOM_VERSION="18.3.1"

cd "$(dirname "$0")"
dest="$(pwd)"

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# "<package>@<version> <path inside the tarball> <destination file name>"
files=(
  "react@${REACT_VERSION} package/umd/react.production.min.js react.production.min.js"
  "react-dom@${REACT_DOM_VERSION} package/umd/react-dom.production.min.js react-dom.production.min.js"
  "graphiql@${GRAPHIQL_VERSION} package/graphiql.min.js graphiql.min.js"
  "graphiql@${GRAPHIQL_VERSION} package/graphiql.min.css graphiql.min.css"
)

sha512_b64() {
  node -e 'const c=require("crypto"),fs=require("fs");
           process.stdout.write("sha512-"+c.createHash("sha512").update(fs.readFileSync(process.argv[1])).digest("base64"))' "$1"
}

fetch_pkg() {
  local spec="$1" name version tarball expected actual
  name="${spec%@*}"
  version="${spec##*@}"
  tarball="$tmp/${name}-${version}.tgz"
  if [[ -d "$tmp/$spec" ]]; then
    return 0
  fi
  # npm pack verifies the download against the packument's dist.integrity.
  (cd "$tmp" && npm pack --silent "$spec" >/dev/null)
  [[ -f "$tarball" ]] || { echo "npm pack did not produce $tarball" >&2; exit 1; }
  # Belt and braces: compare again explicitly.
  expected="$(npm view "$spec" dist.integrity)"
  actual="$(sha512_b64 "$tarball")"
  if [[ "$expected" != "$actual" ]]; then
    echo "integrity mismatch for $spec: registry $expected, tarball $actual" >&2
    exit 1
  fi
  echo "ok  $spec  $actual"
  mkdir -p "$tmp/$spec"
  tar -xzf "$tarball" -C "$tmp/$spec"
}

for entry in "${files[@]}"; do
  read -r spec src name <<<"$entry"
  fetch_pkg "$spec"
  [[ -f "$tmp/$spec/$src" ]] || { echo "$spec has no $src" >&2; exit 1; }
  cp "$tmp/$spec/$src" "$dest/$name"
done

echo
echo "sha256 of vendored files:"
for entry in "${files[@]}"; do
  read -r _ _ name <<<"$entry"
  sha256sum "$name"
done

# Checksums of every file here except SHA256SUMS itself.
find . -maxdepth 1 -type f ! -name SHA256SUMS -printf '%f\n' | LC_ALL=C sort \
  | xargs sha256sum > SHA256SUMS
echo
echo "wrote SHA256SUMS"
