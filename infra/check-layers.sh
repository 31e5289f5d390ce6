#!/usr/bin/env bash
# The layering ARCHITECTURE.md describes, checked on the code's own `use`
# lines and paths (test modules excepted: a test may build its input with
# anything). Run by `make lint`; prints each breach and fails.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

status=0

# breach WHAT PATTERN FILES...: lines outside `#[cfg(test)]` that match.
breach() {
    local what=$1 pattern=$2
    shift 2
    local found
    found=$(awk -v pattern="$pattern" '
        FNR == 1 { in_test = 0 }
        /^#\[cfg\(test\)\]/ { in_test = 1 }
        !in_test && $0 ~ pattern { printf "%s:%d: %s\n", FILENAME, FNR, $0 }
    ' "$@")
    if [[ -n "$found" ]]; then
        echo "layers: $what:" >&2
        echo "$found" >&2
        status=1
    fi
}

# The domain: types and rules, no I/O, nothing above it.
breach "the domain reaches above itself" 'crate::(store|http|pagination|throttle|posts|order_access|tokens|batch|receipts|aws|config)|(axum|aws_sdk_[a-z0-9]+|lambda_http|tokio)::' \
    shared/src/domain/*.rs shared/src/ids.rs shared/src/timefmt.rs shared/src/password.rs

# The store: DynamoDB, knowing the domain only.
breach "the store reaches above itself" 'crate::(http|pagination|throttle|posts|order_access|tokens|batch)|(axum|lambda_http)::' \
    shared/src/store/*.rs

# Keys are spelled in store/keys.rs alone.
breach "a key is spelled outside store/keys.rs" '"[A-Z_]+#' \
    $(find shared/src functions/*/src -name '*.rs' ! -path 'shared/src/store/keys.rs')

exit $status
