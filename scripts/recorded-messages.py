#!/usr/bin/env python3
"""Writes synthetic recorded `messages` records (JSON lines, in time order) for `warden backtest`.

Bodies are the hand-written texts of tests/data/corpus.tsv: a share `--abusive` of them its
spam, fraud and AUP texts, the rest its legitimate ones; `--accounts` senders, 50 messages a
second of simulated time from 2026-11-30T00:00:00Z; seeded, so a seed gives the same file.

    python3 scripts/recorded-messages.py --messages 1000000 > /tmp/recorded.jsonl
"""
import argparse
import datetime
import json
import random
import sys

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--messages", type=int, default=1_000_000)
parser.add_argument("--accounts", type=int, default=20_000)
parser.add_argument("--abusive", type=float, default=0.03)
parser.add_argument("--seed", type=int, default=1)
parser.add_argument("--corpus", default="tests/data/corpus.tsv")
args = parser.parse_args()

legitimate, abusive = [], []
with open(args.corpus, encoding="utf-8") as corpus:
    for line in corpus:
        if line.startswith("#") or line.startswith("label\t") or not line.strip():
            continue
        label, _action, text = line.rstrip("\n").split("\t", 2)
        (legitimate if label == "ham" else abusive).append(text)

rng = random.Random(args.seed)
start = datetime.datetime(2026, 11, 30, tzinfo=datetime.timezone.utc)
out = sys.stdout
for index in range(args.messages):
    sent_at = start + datetime.timedelta(seconds=index // 50)
    body = rng.choice(abusive if rng.random() < args.abusive else legitimate)
    record = {
        "message_id": f"SM{index}",
        "account_id": f"AC{rng.randrange(args.accounts):06}",
        "sent_at": sent_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "channel": "sms",
        "to": f"+1555{rng.randrange(10**7):07}",
        "body": body,
    }
    out.write(json.dumps(record, ensure_ascii=False) + "\n")
