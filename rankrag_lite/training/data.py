"""Training data: chat JSONL (SFT data or the blend) -> token ids with assistant-only labels.

Each line is ``{"messages": [{"role", "content"}, ...], ...}`` (other keys, e.g. ``part`` and
``source`` in the blend, are kept for statistics only). Labels are ``-100`` outside assistant
replies; with ``last_turn_only`` only the last reply is trained on (the paper's Stage 1).
"""

from __future__ import annotations

import collections
import os
import random
from pathlib import Path

from rankrag_lite.errors import RankragError
from rankrag_lite.io import iter_jsonl
from rankrag_lite.modeling.chat import IGNORE, tokenize_chat
from rankrag_lite.training.packing import system_head_length

ROLES = {"system", "user", "assistant"}


def _check_messages(msgs, where: str) -> None:
    if not isinstance(msgs, list) or not msgs:
        raise RankragError(f"{where}: 'messages' must be a non-empty list of {{role, content}}")
    for m in msgs:
        if not isinstance(m, dict) or m.get("role") not in ROLES or not isinstance(m.get("content"), str):
            raise RankragError(f"{where}: each message needs role in {sorted(ROLES)} and a string content")
    if not any(m["role"] == "assistant" for m in msgs):
        raise RankragError(f"{where}: no assistant turn to train on")


def load_chat_records(path: str | os.PathLike, max_examples: int | None = None,
                      seed: int = 0) -> list[dict]:
    """Read and validate a chat JSONL (``.gz`` too). ``max_examples`` takes a seeded sample."""
    path = Path(path)
    if not path.exists():
        raise RankragError(f"training data not found: {path}")
    if path.is_dir():
        raise RankragError(f"training data must be a JSONL file, got a folder: {path}")
    records = []
    for i, rec in enumerate(iter_jsonl(path), start=1):
        if not isinstance(rec, dict) or "messages" not in rec:
            raise RankragError(f"{path}:{i}: record has no 'messages' (expected chat JSONL)")
        _check_messages(rec["messages"], f"{path}:{i}")
        records.append(rec)
    if not records:
        raise RankragError(f"{path}: no records")
    if max_examples is not None and len(records) > max_examples:
        rng = random.Random(seed)
        records = rng.sample(records, max_examples)
    return records


def tokenize_records(tokenizer, records: list[dict], max_length: int,
                     last_turn_only: bool = False, system_head: bool = False) -> list[dict]:
    """Token ids + labels per record; records left without any trained token are dropped (with a
    warning naming how many of each blend part: a too-small ``max_length`` silently costing a whole
    part, e.g. the five-passage rows, is the failure this guards against).

    ``system_head``: each row also gets ``head_len``, the number of its leading tokens that are its
    system turn (0 when it has none), for packing behind a shared head
    (:mod:`rankrag_lite.training.packing`)."""
    rows = []
    dropped: collections.Counter = collections.Counter()
    for rec in records:
        row = tokenize_chat(tokenizer, rec["messages"], last_turn_only=last_turn_only)
        cut = any(x != IGNORE for x in row["labels"][max_length:])  # answer tokens past max_length
        row = {"input_ids": row["input_ids"][:max_length], "labels": row["labels"][:max_length]}
        if any(x != IGNORE for x in row["labels"]):
            row["part"] = str(rec.get("part", "unknown"))
            row["answer_cut"] = cut
            if system_head:
                row["head_len"] = system_head_length(tokenizer, rec["messages"], row["input_ids"],
                                                     row["labels"])
            rows.append(row)
        else:
            dropped[str(rec.get("part", "unknown"))] += 1
    if not rows:
        raise RankragError(
            f"no example keeps an assistant token within max_length={max_length}; raise max_length"
        )
    if dropped:
        from rankrag_lite.progress import log

        log(f"warning: {sum(dropped.values())} examples lost their whole answer to max_length={max_length} "
            f"and are skipped ({', '.join(f'{k} {v}' for k, v in sorted(dropped.items()))}); "
            "raise max_length to train on them")
    return rows


def data_stats(records: list[dict], rows: list[dict]) -> dict:
    """Counts over the examples that are trained on (``rows``); ``dropped``: records that lost every
    trained token to ``max_length``; ``answer_cut``: rows that lost part of it."""
    parts = collections.Counter(r.get("part", "unknown") for r in rows)
    n_tok = sum(len(r["input_ids"]) for r in rows)
    n_lab = sum(sum(1 for x in r["labels"] if x != IGNORE) for r in rows)
    return {
        "examples": len(rows),
        "dropped": len(records) - len(rows),
        "answer_cut": sum(1 for r in rows if r.get("answer_cut")),  # kept, but part of the answer cut
        "tokens": n_tok,
        "trained_tokens": n_lab,
        "parts": dict(sorted(parts.items())),
    }


def to_dataset(rows: list[dict]):
    from datasets import Dataset

    return Dataset.from_dict({
        "input_ids": [r["input_ids"] for r in rows],
        "labels": [r["labels"] for r in rows],
    })
