"""Token lengths of a blend's rows per part, tokenized exactly as ``finetune`` tokenizes them, and the
share of each part that a ``max_length`` keeps: whole, and with at least one answer token (finetune
drops the rest). Used to size the notebooks' GPU profiles (notebooks/02_finetune_unsloth.ipynb).

Usage: python scripts/row_lengths.py BLEND.jsonl --tokenizer DIR_OR_NAME [--lengths 1024 1536 2048]
       [--limit N] [--last-turn-only]
"""

from __future__ import annotations

import argparse
import collections
import json
import sys


def measure(blend: str, tokenizer: str, lengths: list[int], limit: int | None = None,
            last_turn_only: bool = False) -> dict:
    from transformers import AutoTokenizer

    from rankrag_lite.modeling.chat import IGNORE, tokenize_chat
    from rankrag_lite.training.data import load_chat_records

    tok = AutoTokenizer.from_pretrained(tokenizer)
    records = load_chat_records(blend)[:limit]
    full: dict[str, list[int]] = collections.defaultdict(list)
    answered: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for rec in records:
        part = str(rec.get("part", "unknown"))
        n = len(tokenize_chat(tok, rec["messages"], max_length=10**7, last_turn_only=last_turn_only)["input_ids"])
        full[part].append(n)
        for length in lengths:
            if n <= length:
                answered[part][length] += 1
                continue
            row = tokenize_chat(tok, rec["messages"], max_length=length, last_turn_only=last_turn_only)
            answered[part][length] += any(x != IGNORE for x in row["labels"])
    out = {}
    for part, ns in sorted(full.items()):
        s = sorted(ns)

        def pct(q: float) -> int:
            return s[min(len(s) - 1, int(q * len(s)))]

        out[part] = {"rows": len(s), "p50": pct(0.5), "p90": pct(0.9), "p95": pct(0.95), "p99": pct(0.99),
                     "max": s[-1],
                     "whole": {L: round(sum(n <= L for n in s) / len(s), 3) for L in lengths},
                     "answer_kept": {L: round(answered[part][L] / len(s), 3) for L in lengths}}
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="scripts/row_lengths.py", description=__doc__.splitlines()[0])
    ap.add_argument("blend", help="Chat JSONL (the blend, or SFT data).")
    ap.add_argument("--tokenizer", required=True, help="Tokenizer folder or name (the model's).")
    ap.add_argument("--lengths", type=int, nargs="+", default=[1024, 1536, 2048], help="max_length values.")
    ap.add_argument("--limit", type=int, default=None, help="First N rows only.")
    ap.add_argument("--last-turn-only", action="store_true", help="Train on the last reply only (Stage 1).")
    a = ap.parse_args(argv)
    print(json.dumps(measure(a.blend, a.tokenizer, a.lengths, a.limit, a.last_turn_only), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
