#!/usr/bin/env bash
# K-fold cross-validation over the training rows of `warden train` (the test rows are never
# read): each fold is validated by a model fitted on the other folds, so every training-side
# row is judged once as unseen, and a source with few validation rows (India's ham) gets a
# figure from all of them. Choosing between variants is done here or on `--validation`.
#
#   scripts/cross-validate.sh [FOLDS] [OUT_DIR]        # defaults: 5 folds, /tmp/warden-cv
#   CONFIG='"subword_ngrams": 0' TRAIN_ARGS='--relabel hatexplain:toxic=aup' scripts/cross-validate.sh
#
# CONFIG adds keys to each fold's `--config` object; TRAIN_ARGS are passed to `warden train`.
# EVAL_ARGS are passed to `warden eval` (another policy: `EVAL_ARGS='--policy FILE'`); with
# REUSE=1 the fold models already in OUT_DIR are evaluated again instead of being retrained.
# Prints, per source, the folds' validation figures pooled: ham flagged, abuse caught, MCC.
# About 2 to 3 minutes a fold on two cores (seconds with REUSE=1).
set -euo pipefail
folds=${1:-5}
out=${2:-/tmp/warden-cv}
mkdir -p "$out"
cargo build --release --quiet
for ((k = 0; k < folds; k++)); do
    config="{\"validation_fold\": {\"index\": $k, \"of\": $folds}${CONFIG:+, $CONFIG}}"
    if [ "${REUSE:-0}" != 1 ] || [ ! -f "$out/fold$k.json" ]; then
        # shellcheck disable=SC2086 # TRAIN_ARGS is a list of arguments
        target/release/warden train --config "$config" --out "$out/fold$k.json" ${TRAIN_ARGS:-} \
            > "$out/train$k.log" 2>&1
    fi
    # shellcheck disable=SC2086 # EVAL_ARGS is a list of arguments
    target/release/warden eval --validation --model "$out/fold$k.json" --json ${EVAL_ARGS:-} \
        > "$out/validation$k.json" 2> /dev/null
    echo "fold $((k + 1)) of $folds done" >&2
done
python3 - "$out" "$folds" <<'PY'
import json, sys
out, folds = sys.argv[1], int(sys.argv[2])
pooled = {}
for k in range(folds):
    for source, figures in json.load(open(f"{out}/validation{k}.json")).items():
        confusion = figures["confusion"]
        ham = sum(confusion[0])
        abuse = sum(sum(row) for row in confusion[1:])
        total = pooled.setdefault(source, [0, 0.0, 0, 0.0])
        total[0] += ham
        total[1] += figures["overall"]["ham_flagged"] * ham
        total[2] += abuse
        total[3] += figures["overall"]["abuse_caught"] * abuse
def mcc(ham, flagged, abuse, caught):
    # Any abuse against ham, from the pooled counts (as `warden eval` computes it per fold).
    tp, fn, fp = round(caught), abuse - round(caught), round(flagged)
    tn = ham - fp
    denominator = ((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn)) ** 0.5
    return f"{(tp * tn - fp * fn) / denominator:.3f}" if denominator else "-"
print(f"{'source':<28} {'ham':>6} {'ham flagged':>12} {'abuse':>6} {'abuse caught':>13} {'MCC':>6}")
for source, (ham, flagged, abuse, caught) in pooled.items():
    share = lambda n, d: f"{100 * n / d:.2f} %" if d else "-"
    print(f"{source:<28} {ham:>6} {share(flagged, ham):>12} {abuse:>6} {share(caught, abuse):>13} "
          f"{mcc(ham, flagged, abuse, caught):>6}")
PY
