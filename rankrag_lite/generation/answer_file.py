"""``answer_file``: answer every record of a (reranked) candidates file from its top-k passages.

Input: JSONL records ``{qid, question, passages: [...]}`` with passages best first (the output of
``rankrag-lite rerank``, or any candidates file); optional gold ``answers`` (or ``answer``, or a
``label`` True/False for claims). Output JSONL, one record per question:
``{qid, question, answers, prediction, raw, top_pids, em, f1, acc}`` (metrics where gold answers are
given). Streams in chunks, written atomically; returns the mean metrics.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from rankrag_lite.answers import METRIC_NOTES, answer_metrics, mean_answer_metrics
from rankrag_lite.errors import RankragError
from rankrag_lite.formats.fields import unique_ids
from rankrag_lite.generation.answerer import Answerer
from rankrag_lite.io import atomic_write, dumps, iter_jsonl_lines
from rankrag_lite.progress import make_progress
from rankrag_lite.ranking.candidates import normalize_record

TASKS = ("qa", "claim")


def gold_answers(rec: dict) -> list[str]:
    ans = rec.get("answers", rec.get("answer"))
    if ans is None and "label" in rec:
        ans = rec["label"]
    if ans is None:
        return []
    if isinstance(ans, bool):
        return ["True" if ans else "False"]
    if isinstance(ans, str):
        return [ans]
    return [str(a) for a in ans if str(a).strip()]


def _records(path: Path, k: int, strict: bool = True) -> Iterator[dict]:
    n = 0
    records = ((lineno, normalize_record(rec, str(path), i, line=lineno))
               for i, (lineno, rec) in enumerate(iter_jsonl_lines(path)))
    for lineno, r in unique_ids(records, str(path), key=lambda pair: pair[1]["qid"]):
        if strict and len(r["passages"]) < k:
            raise RankragError(f"{path}:{lineno}: record (qid {r['qid']}) has {len(r['passages'])} passages, "
                               f"fewer than k={k}")
        n += 1
        yield r
    if n == 0:
        raise RankragError(f"{path}: no records")


def _check_settings(k: int, task: str) -> None:
    if task not in TASKS:
        raise RankragError(f"unknown task {task!r}; choose one of {list(TASKS)}")
    if k < 1:
        raise RankragError(f"k must be at least 1, got {k}")


def check_answer_input(input_path: str | os.PathLike, *, k: int = 5, task: str = "qa", strict: bool = True) -> int:
    """Validate an ``answer`` input in full (one pass, before any model loads); returns its records."""
    _check_settings(k, task)
    input_path = Path(input_path)
    if not input_path.exists():
        raise RankragError(f"input file not found: {input_path}")
    return sum(1 for _ in _records(input_path, k, strict))


def answer_file(answerer: Answerer, input_path: str | os.PathLike, out: str | os.PathLike, *,
                k: int = 5, task: str = "qa", chunk: int = 64, progress: bool = True,
                strict: bool = True, records: int | None = None) -> dict:
    """Answer from the top-``k`` passages of each record; returns ``{count, em, f1, acc, ...}``.

    ``strict``: a record with fewer than ``k`` passages is an error (else it is answered from all).
    ``records``: what :func:`check_answer_input` returned for this input (it is then not read twice);
    without it the input is validated here first."""
    _check_settings(k, task)  # cheap: kept when the caller validated the file
    input_path = Path(input_path)
    total = records if records is not None else check_answer_input(input_path, k=k, task=task, strict=strict)
    scored: list[dict] = []  # the metrics of each answer that has gold answers
    with make_progress() as bar, atomic_write(out) as f:
        t = bar.add_task("Answering", total=total, info="questions")
        if not progress:
            bar.update(t, visible=False)
        batch: list[dict] = []

        def flush():
            items = [(r["question"], r["passages"][:k]) for r in batch]
            preds = answerer.verify_claims(items) if task == "claim" else answerer.answer(items)
            for r, p in zip(batch, preds):
                gold = gold_answers(r)
                m = answer_metrics(p["prediction"], gold)
                if m:
                    scored.append(m)
                rec = {"qid": r["qid"], "question": r["question"], "answers": gold, **p,
                       "top_pids": [x["pid"] for x in r["passages"][:k]], **m}
                f.write(dumps(rec) + "\n")
            bar.advance(t, len(batch))
            batch.clear()

        for r in _records(input_path, k, strict):
            batch.append(r)
            if len(batch) >= chunk:
                flush()
        if batch:
            flush()
    summary = {"count": total, "k": k, "task": task, "with_gold": len(scored)}
    if scored:
        means = mean_answer_metrics(scored)
        summary.update(means)
        summary["metrics"] = {key: METRIC_NOTES[key] for key in means}
    return summary
