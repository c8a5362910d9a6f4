"""``rag``: retrieve (a saved BM25 index) -> rerank (P("True")) -> answer (top-k), one model loaded once.

Writes into ``out_dir`` (built in a temporary folder and moved into place only when every stage has
finished): ``candidates.jsonl`` + ``bm25.trec`` (retrieval top-n), ``reranked.jsonl`` +
``reranked.trec``, ``answers.jsonl``, and ``summary.json`` (counts, settings, answer metrics where the
questions have answers).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from rankrag_lite.answers import METRIC_NOTES
from rankrag_lite.errors import RankragError
from rankrag_lite.io import atomic_dir, dumps, write_json
from rankrag_lite.progress import log

ABSTAIN_TEXT = "No answer in the retrieved passages."


def read_questions(source: str | os.PathLike, fmt: str | None = None, limit: int | None = None,
                   split: str | None = None) -> list[dict]:
    """``[{qid, question, answers}]`` from any QA source ``load_qa`` reads (TSV topics included; a hub
    dataset from its ``split``, default train)."""
    from rankrag_lite.data.sources import load_qa
    from rankrag_lite.formats.hub import is_local

    if split is not None and is_local(str(source)):
        raise RankragError(f"--split is for a hub dataset of questions, not the file {source}")
    items = load_qa(str(source), fmt=fmt, split=split, limit=limit)
    if not items:
        raise RankragError(f"{source}: no questions")
    from rankrag_lite.formats.fields import unique_ids

    return [{"qid": it.qid, "question": it.question, "answers": list(it.answers)}
            for it in unique_ids(items, str(source), key=lambda it: it.qid)]


def count_unanswered(ans: dict, missed: list[dict], asked: int) -> dict:
    """Answer metrics over every question asked: the ``missed`` ones (no retrieval hit, so never
    answered) count as wrong. The means over the answered questions stay as ``answered_*``."""
    ans = dict(ans)
    ans["questions"] = asked
    ans["no_hits"] = len(missed)
    missed_gold = sum(1 for q in missed if q.get("answers"))
    if missed_gold and ans.get("with_gold"):
        n = ans["with_gold"]
        for key in METRIC_NOTES:
            if key in ans:
                ans[f"answered_{key}"] = ans[key]
                ans[key] = ans[key] * n / (n + missed_gold)
        ans["with_gold"] = n + missed_gold
    elif missed_gold:  # nothing answered had gold answers, the missed ones did
        ans.update({**{key: 0.0 for key in METRIC_NOTES}, "with_gold": missed_gold})
    return ans


def rag(index_dir: str | os.PathLike, model_name: str, questions: str | os.PathLike, out_dir: str | os.PathLike,
        *, n: int = 100, k: int = 5, fmt: str | None = None, split: str | None = None, limit: int | None = None,
        batch_size: int = 16,
        score: str = "true-false", max_new_tokens: int = 32, load_in_4bit: bool = False,
        loaded=None, progress: bool = True, fusion=None, abstain: float | None = None,
        abstain_text: str = ABSTAIN_TEXT, calibration="auto") -> dict:
    """Run the three stages; returns the summary written to ``summary.json``.

    ``loaded``: an already loaded :class:`~rankrag_lite.RankRAG` (or ``(model, tokenizer)``) to use
    instead of loading ``model_name``; ``batch_size`` and ``score`` apply to it. ``split``: the split of a
    hub dataset ``questions`` (default train).
    ``fusion`` (a :class:`~rankrag_lite.ranking.fusion.Fusion`): rank by BM25 fused with P(True).
    ``abstain``: a question whose best calibrated passage score is below this probability is not
    answered; its prediction is ``abstain_text`` (``abstained: true``). With ``abstain`` every answer
    row carries ``best_score``. ``calibration``: as :class:`PTrueScorer` (``"auto"``: beside the model)."""
    from rankrag_lite.generation import answer_file
    from rankrag_lite.model import RankRAG
    from rankrag_lite.ranking.calibration import check_probability
    from rankrag_lite.ranking.rerank import rerank_file
    from rankrag_lite.ranking.scorer import check_method
    from rankrag_lite.retrieval import load_index

    check_method(score)
    abstain = check_probability(abstain, "--abstain")
    if n < 1 or k < 1:
        raise RankragError("--n and --k must be at least 1")
    if k > n:
        raise RankragError(f"--k {k} is larger than the {n} retrieved candidates (--n)")
    qs = read_questions(questions, fmt, limit, split)
    index = load_index(index_dir)
    if loaded is None:
        log(f"loading model {model_name}")
        model = RankRAG.from_pretrained(model_name, load_in_4bit=load_in_4bit, batch_size=batch_size, score=score,
                                        calibration=calibration)
    else:
        model = RankRAG.wrap(loaded, batch_size=batch_size, score=score, calibration=calibration)
    scorer = model.scorer
    if abstain is not None and not scorer.calibrated:
        raise RankragError("--abstain needs a calibrated model: run rankrag-lite calibrate first "
                           "(or pass --calibration FILE)")
    answerer = model.answerer(max_new_tokens)
    times: dict[str, float] = {}
    with atomic_dir(out_dir) as tmp:
        tmp = Path(tmp)
        t0 = time.perf_counter()
        no_hits = []
        with open(tmp / "candidates.jsonl", "w", encoding="utf-8") as f, \
                open(tmp / "bm25.trec", "w", encoding="utf-8") as frun:
            for start in range(0, len(qs), 64):
                batch = qs[start:start + 64]
                for q, hits in zip(batch, index.search([q["question"] for q in batch], k=n)):
                    if not hits:
                        no_hits.append(q["qid"])
                        continue
                    rec = {**q, "passages": [h.to_dict() for h in hits]}
                    f.write(dumps(rec) + "\n")
                    for rank, h in enumerate(hits, start=1):
                        frun.write(f"{q['qid']} Q0 {h.pid} {rank} {h.score:.6f} bm25-{index.backend}\n")
        if len(no_hits) == len(qs):
            raise RankragError("retrieval found nothing for any question")
        times["retrieve_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        rr = rerank_file(scorer, tmp / "candidates.jsonl", tmp / "reranked.jsonl",
                         run_out=tmp / "reranked.trec", progress=progress,
                         meta={"model": str(model_name), "score": score}, fusion=fusion)
        times["rerank_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        if abstain is None:
            ans = answer_file(answerer, tmp / "reranked.jsonl", tmp / "answers.jsonl", k=k, progress=progress,
                              strict=False)
        else:
            ans = _answer_or_abstain(answerer, tmp, k, abstain, abstain_text, progress)
        times["answer_s"] = time.perf_counter() - t0
        ans = count_unanswered(ans, [q for q in qs if q["qid"] in set(no_hits)], len(qs))
        if abstain is not None and no_hits:  # nothing retrieved: no candidate passes the threshold either
            ans["abstained"] = ans.get("abstained", 0) + len(no_hits)
        summary = {
            "index": str(index_dir), "model": str(model_name), "questions": len(qs), "n": n, "k": k,
            "score": score, "fuse": fusion.label if fusion is not None else None,
            "max_new_tokens": max_new_tokens, "no_hits": no_hits,
            "calibrated": scorer.calibrated, "abstain": abstain,
            "reranked_passages": rr["passages"], "answers": ans, "times": times,
        }
        write_json(tmp / "summary.json", summary)
    return summary


def _answer_or_abstain(answerer, tmp: Path, k: int, threshold: float, text: str, progress: bool) -> dict:
    """Answer the reranked questions whose best score reaches ``threshold``; the others get ``text``.
    Writes ``answers.jsonl`` in the reranked order, every row with ``best_score`` and ``abstained``."""
    from rankrag_lite.answers import answer_metrics, mean_answer_metrics
    from rankrag_lite.generation import answer_file, gold_answers
    from rankrag_lite.io import iter_jsonl

    records = list(iter_jsonl(tmp / "reranked.jsonl"))
    best = {r["qid"]: max((p["rerank_score"] for p in r["passages"]), default=0.0) for r in records}
    keep = [r for r in records if best[r["qid"]] >= threshold]
    answered: dict[str, dict] = {}
    if keep:
        with open(tmp / "to_answer.jsonl", "w", encoding="utf-8") as f:
            for r in keep:
                f.write(dumps(r) + "\n")
        answer_file(answerer, tmp / "to_answer.jsonl", tmp / "answered.jsonl", k=k, progress=progress, strict=False)
        answered = {a["qid"]: a for a in iter_jsonl(tmp / "answered.jsonl")}
        (tmp / "to_answer.jsonl").unlink()
        (tmp / "answered.jsonl").unlink()
    scored: list[dict] = []  # the metrics of each question with gold answers (an abstention: all 0)
    with open(tmp / "answers.jsonl", "w", encoding="utf-8") as f:
        for r in records:
            row = answered.get(r["qid"])
            if row is None:
                gold = gold_answers(r)
                row = {"qid": r["qid"], "question": r["question"], "answers": gold, "prediction": text,
                       "top_pids": [], **answer_metrics(text, gold)}
            row.update(best_score=best[r["qid"]], abstained=r["qid"] not in answered)
            m = answer_metrics(row["prediction"], row["answers"]) if not row["abstained"] else \
                {key: 0.0 for key in answer_metrics(text, row["answers"])}
            if m:
                scored.append(m)
            f.write(dumps(row) + "\n")
    summary = {"count": len(records), "k": k, "task": "qa", "with_gold": len(scored), "answered": len(answered),
               "abstained": len(records) - len(answered), "abstain_threshold": threshold}
    if scored:
        # abstaining where an answer exists counts as wrong
        summary.update(mean_answer_metrics(scored))
    return summary
