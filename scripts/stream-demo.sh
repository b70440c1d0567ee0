#!/usr/bin/env bash
# Warden's stream processor on this machine: a local tansu broker, `warden run`, and labelled
# traffic flowing through them. Prints a summary of the verdicts, then stops everything.
#
#   scripts/stream-demo.sh            # 2,000 messages at 500/s
#   MESSAGES=20000 RATE=5000 scripts/stream-demo.sh
#
# Needs tansu: cargo install tansu --locked --features dynostore,libsql
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/tansu.sh
export PATH="$HOME/.cargo/bin:$PATH"
command -v tansu >/dev/null || {
    echo "tansu is not installed: cargo install tansu --locked --features dynostore,libsql" >&2
    exit 1
}
port="${PORT:-19092}"
work="$(mktemp -d)"
trap 'kill "${broker:-}" 2>/dev/null || true; rm -rf "$work"' EXIT

echo "== starting tansu on 127.0.0.1:$port"
start_tansu "$port" "$work"

cargo build --release --quiet
echo "== warden bench: produces labelled traffic, runs warden run, reads every verdict back"
./target/release/warden bench --brokers "127.0.0.1:$port" \
    --messages "${MESSAGES:-2000}" --rate "${RATE:-500}" --print-verdicts 5
