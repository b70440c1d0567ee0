#!/usr/bin/env bash
# Where the CPU goes in a backlog `warden bench`: a fresh in-memory tansu, then
# `warden bench --messages $MESSAGES` with `WARDEN_LOG=warn`, while /proc is sampled every
# 0.2 s. Prints the bench's own lines, then CPU seconds (and microseconds per message) spent
# while `warden run` was alive: by `warden run`'s threads (grouped by name), by tansu, and by
# the bench process (its verdict reader; it produces the backlog before `warden run` starts
# and scores in process after it stops).
#
#   scripts/bench-cpu.sh                 # 300,000 messages
#   MESSAGES=100000 scripts/bench-cpu.sh
#
# Needs tansu (cargo install tansu --locked --features dynostore,libsql) and a release build.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/tansu.sh
export PATH="$HOME/.cargo/bin:$PATH"
messages="${MESSAGES:-300000}"
port="${PORT:-19092}"
work="$(mktemp -d)"
trap 'kill "${broker:-}" "${sampler:-}" 2>/dev/null || true; rm -rf "$work"' EXIT

cargo build --release --quiet
start_tansu "$port" "$work"

ticks() { awk '{print $14 + $15}' "$1" 2>/dev/null || echo 0; }
# One line per sample while `warden run` lives: "process <tansu> <bench>", then
# "thread <name> <ticks>" for each of its threads.
(
    while sleep 0.2; do
        run=$(pgrep -f "warden run --config" | head -1 || true)
        [ -n "$run" ] || continue
        bench=$(pgrep -f "warden bench" | head -1 || true)
        sample="process $(ticks "/proc/$broker/stat") $(ticks "/proc/$bench/stat")"
        for task in /proc/"$run"/task/*; do
            sample+=$'\n'"thread $(tr ' ' _ <"$task/comm" 2>/dev/null)-${task##*/} $(ticks "$task/stat")"
        done
        echo "$sample" >"$work/sample.$(date +%s%N)"
    done
) &
sampler=$!

WARDEN_LOG=warn ./target/release/warden bench --brokers "127.0.0.1:$port" --messages "$messages"
kill "$sampler"

samples=("$work"/sample.*)
hz=$(getconf CLK_TCK)
echo "CPU while warden run lived (sampled every 0.2 s, ${#samples[@]} samples):"
# Each thread's last count is its highest: a thread that ended before the last sample (the
# scoring pool's, at shutdown) keeps what it had. Tansu and the bench count from the first.
awk -v hz="$hz" -v n="$messages" '
    $1 == "process" {
        if (!started) { tansu0 = $2; bench0 = $3; started = 1 }
        if ($2 > tansu) tansu = $2
        if ($3 > bench) bench = $3
        next
    }
    $3 > seen[$2] { seen[$2] = $3 }
    END {
        for (thread in seen) {
            # warden-score-0-1234 -> warden-score; tokio-rt-worker-1235 -> tokio-rt-worker
            name = thread; sub(/-[0-9]+$/, "", name); sub(/-[0-9]+$/, "", name)
            group[name] += seen[thread]; total += seen[thread]
        }
        printf "  %-22s %7.2f s %6.1f us/message\n", "warden run (all)", total / hz, total / hz / n * 1e6
        for (g in group) if (group[g] > 0)
            printf "    %-20s %7.2f s %6.1f us/message\n", g, group[g] / hz, group[g] / hz / n * 1e6
        tansu -= tansu0; bench -= bench0
        printf "  %-22s %7.2f s %6.1f us/message\n", "tansu", tansu / hz, tansu / hz / n * 1e6
        printf "  %-22s %7.2f s %6.1f us/message\n", "bench (verdict reader)", bench / hz, bench / hz / n * 1e6
    }' "${samples[@]}"
