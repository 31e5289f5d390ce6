#!/usr/bin/env bash
# The layering ARCHITECTURE.md describes. The crates' dependencies are the
# layers: each crate may depend only on the crates its row allows (read from
# `cargo metadata`, so a new dependency in a Cargo.toml is checked too), and
# the compiler then holds every `use` to them. Keys are spelled in the
# store's keys.rs alone. Run by `make lint`; prints each breach and fails.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

status=0

# The workspace's own crates, and which of them each may depend on.
# Functions (every package under functions/) may use every shared crate but
# the store: they reach it through the services.
cargo metadata --no-deps --format-version 1 | python3 -c '
import json, sys
allowed = {
    "domain": set(),
    "platform": {"domain"},
    "store": {"domain"},
    "services": {"domain", "platform", "store"},
    "web": {"domain", "platform", "services"},
}
layers = set(allowed)
meta = json.load(sys.stdin)
root = meta["workspace_root"]
failed = False
for package in meta["packages"]:
    name = package["name"]
    uses = {d["name"] for d in package["dependencies"] if d["kind"] is None} & layers
    is_function = package["manifest_path"].startswith(root + "/functions/")
    if name in allowed:
        wrong = uses - allowed[name]
    elif is_function:
        wrong = uses & {"store"}
    else:
        continue
    for crate in sorted(wrong):
        print(f"layers: {name} depends on {crate}, which its layer may not", file=sys.stderr)
        failed = True
sys.exit(1 if failed else 0)
' || status=1

# Keys are spelled in shared/store/src/keys.rs alone (test modules excepted:
# a test may build its input with anything).
found=$(awk '
    FNR == 1 { in_test = 0 }
    /^#\[cfg\(test\)\]/ { in_test = 1 }
    !in_test && /"[A-Z_]+#/ { printf "%s:%d: %s\n", FILENAME, FNR, $0 }
' $(find shared functions -name '*.rs' -path '*/src/*' ! -path 'shared/store/src/keys.rs' ! -path '*/target/*'))
if [[ -n "$found" ]]; then
    echo "layers: a key is spelled outside shared/store/src/keys.rs:" >&2
    echo "$found" >&2
    status=1
fi

exit $status
