#!/usr/bin/env bash
# The review API and the console under load: a SQLite store holding CASES (default 10,000)
# suspended cases that each carry an open appeal, `warden serve` on it, and oha against the
# API's queue and case endpoints and the console's queue (first page, and a filtered next page) and
# case pages (DURATION each, default 20s, CONCURRENCY connections, default 16).
#
#   scripts/review-load.sh
#
# Needs oha: cargo install oha --locked
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
command -v oha >/dev/null || { echo "oha is not installed: cargo install oha --locked" >&2; exit 1; }
work="$(mktemp -d)"
trap 'kill "$server" 2>/dev/null || true; rm -rf "$work"' EXIT
port="${PORT:-18080}"
token="load-test-reviewer-token-0123456789"

cargo build --release --quiet --bin warden --example seed_review_store
./target/release/examples/seed_review_store "sqlite://$work/warden.db" "${CASES:-10000}"
cat >"$work/reviewers.toml" <<TOML
[[reviewer]]
name = "load"
role = "reviewer"
token_sha256 = "$(echo "$token" | ./target/release/warden token-hash)"
TOML
cat >"$work/warden.toml" <<TOML
[database]
url = "sqlite://$work/warden.db"
[api]
listen = "127.0.0.1:$port"
reviewers_file = "$work/reviewers.toml"
TOML
# No broker: the outbox has nothing to send here, and readiness is not measured.
WARDEN_APPEAL_SECRET="load-test-appeal-secret-0123456789" WARDEN_LOG=warn \
    ./target/release/warden serve --config "$work/warden.toml" --brokers 127.0.0.1:1 2>"$work/serve.log" &
server=$!
for _ in $(seq 100); do
    curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break
    sleep 0.1
done
case_id="$(curl -sf -H "Authorization: Bearer $token" "http://127.0.0.1:$port/v1/review/queue?limit=1" \
    | python3 -c 'import json, sys; print(json.load(sys.stdin)["items"][0]["case_id"])')"
measure() { # PATH HEADER
    echo "== GET $1 (${CASES:-10000} open appeals, ${CONCURRENCY:-16} connections, ${DURATION:-20s})"
    oha --no-tui -z "${DURATION:-20s}" -c "${CONCURRENCY:-16}" -H "$2" "http://127.0.0.1:$port$1" \
        | grep -E "Success rate|Requests/sec|Slowest|Fastest|Average|50.00%|99.00%|\[200\]|Size/request"
}
for path in "/v1/review/queue" "/v1/review/cases/$case_id"; do
    measure "$path" "Authorization: Bearer $token"
done
# The console: sign in as a browser would, then the pages with the session cookie.
cookie="$(curl -sf -o /dev/null -D - -H "Origin: http://127.0.0.1:$port" --data-urlencode "token=$token" \
    "http://127.0.0.1:$port/console/sign-in" | sed -n 's/^[Ss]et-[Cc]ookie: \([^;]*\).*/\1/p')"
[ -n "$cookie" ] || { echo "console sign-in failed" >&2; exit 1; }
# A filtered page further down: the queue's own "next page" link (a cursor, so any depth
# costs the same).
next="$(curl -sf -H "Cookie: $cookie" "http://127.0.0.1:$port/console/queue?kind=appeal&show=unclaimed" \
    | sed -n 's/.*rel="next" href="\([^"]*\)".*/\1/p' | sed 's/&amp;/\&/g')"
for path in "/console/queue" "$next" "/console/cases/$case_id"; do
    measure "$path" "Cookie: $cookie"
done
