"""``evaluate``: several rankers side by side on one evaluation set, plus answers from a top-k."""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from pathlib import Path

from rankrag_lite.errors import RankragError
from rankrag_lite.evaluation.datasets import EvalSet
from rankrag_lite.evaluation.metrics import compare_to, mean_answer_metrics, ranking_metrics
from rankrag_lite.evaluation.rankers import (
    BASELINES,
    Ranking,
    from_scores,
    rank_bm25,
    rank_from_file,
    rank_given,
    rank_longest,
    rank_minilm,
    rank_model,
    rank_random,
)
from rankrag_lite.evaluation.report import write_report
from rankrag_lite.io import atomic_dir
from rankrag_lite.progress import log

DEFAULT_KS = (1, 2, 5, 10, 20)


def default_baselines(es: EvalSet) -> list[str]:
    return ["given" if es.has_order else "bm25", "minilm", "random"]


def model_label(name: str) -> str:
    p = Path(str(name))
    return p.name if p.exists() else str(name)


def _unique(name: str, taken) -> str:
    out, i = name, 2
    while out in taken:
        out, i = f"{name}-{i}", i + 1
    return out


def _first_stage_ranking(es: EvalSet, rankings: list[Ranking]) -> Ranking:
    """The BM25 scores fusion uses: the set's own first-stage scores where every candidate has one
    (a retrieval run), else BM25 recomputed over each question's candidates."""
    if es.has_order and all(isinstance(p.get("score"), (int, float)) for it in es.items for p in it.passages):
        scores = {it.qid: [float(p["score"]) for p in it.passages] for it in es.items}
        return from_scores(es, "given", f"the first stage's scores ({es.first_stage})", scores)
    done = next((r for r in rankings if r.name == "bm25" and r.scores), None)
    return done or rank_bm25(es)


def evaluate(es: EvalSet, out_dir: str | os.PathLike, *, baselines: Sequence[str] | None = None,
             models: Sequence[str] = (), runs: dict[str, str] | None = None, ks: Sequence[int] = DEFAULT_KS,
             score: str = "true-false", batch_size: int = 16, load_in_4bit: bool = False,
             answer: bool | None = None, answer_from: Sequence[str] | None = None, answer_k: int = 5,
             answer_model: str | None = None, max_new_tokens: int = 32, seed: int = 0,
             loaded: dict | None = None, progress: bool = True, fuse: Sequence = (),
             significance: str | None = None, ray=None, shard_passages: int = 1024) -> dict:
    """Rank with every ranker, score with ranx, answer from the top-k; write the report folder.

    ``fuse``: :class:`~rankrag_lite.ranking.fusion.Fusion` settings; each model gains one more row per
    setting, ``MODEL+bm25:W``, its P(True) fused with the first-stage BM25 score (the given scores of
    a retrieval run, else BM25 over each question's candidates).

    ``significance``: a ranker's row name (``bm25``, ``given``, a model's label, ...): every other row is
    compared with it question by question (:func:`~rankrag_lite.evaluation.metrics.compare_to`, a paired
    randomization test), written as ``significance`` in the summary and a table in the report.

    ``ray``: :class:`~rankrag_lite.ranking.distributed.RayOptions`: the models' P(True) is scored on Ray
    (shards of ``shard_passages`` pairs, kept in ``.OUT.ray/`` until the report is written, so that a
    rerun resumes); answers are still generated here.

    ``loaded`` maps a model name to an already loaded :class:`~rankrag_lite.RankRAG` or
    ``(model, tokenizer)`` (tests, notebooks).
    Returns the summary that is written as ``metrics.json``.
    """
    from rankrag_lite.ranking.scorer import check_method

    check_method(score)
    baselines = list(default_baselines(es) if baselines is None else baselines)
    for b in baselines:
        if b not in BASELINES:
            raise RankragError(f"unknown ranker {b!r}; baselines are {list(BASELINES)} (models: --model)")
    ks = sorted(set(int(k) for k in ks))
    if not ks or ks[0] < 1:
        raise RankragError("k values must be positive integers")
    n_max = max(len(it.passages) for it in es.items)
    n_min = min(len(it.passages) for it in es.items)
    if answer is None:
        answer = bool(models) and es.has_answers
    if answer:
        if not es.has_answers:
            raise RankragError(f"{es.name} has no answers to evaluate answers against")
        if answer_k < 1 or answer_k > n_min:
            raise RankragError(f"--answer-k {answer_k} is larger than the candidates of some question ({n_min})"
                               if answer_k > n_min else "--answer-k must be at least 1")
        if not models and not answer_model:
            raise RankragError("answering needs a model: pass --model (or --answer-model)")
    loaded = dict(loaded or {})

    def get_model(name: str):
        from rankrag_lite.model import RankRAG

        if name not in loaded:
            log(f"loading model {name}")
            loaded[name] = RankRAG.from_pretrained(name, load_in_4bit=load_in_4bit, batch_size=batch_size,
                                                   score=score)
        return RankRAG.wrap(loaded[name], batch_size=batch_size, score=score)

    from rankrag_lite.modeling.loading import resolve_model

    for m in [*models, *([answer_model] if answer_model else [])]:
        if m not in loaded:
            resolve_model(m)  # every name checked before the first passage is scored
    if significance is not None:
        if not es.has_gold:
            raise RankragError(f"--significance needs gold labels; {es.name} has none")
        rows = [*baselines, *(model_label(m) for m in models), *(runs or {})]
        rows += [f"{model_label(m)}+{f.label}" for m in models for f in fuse]
        if significance not in rows:
            raise RankragError(f"--significance {significance!r} is not one of the rows {rows}")
    rankings: list[Ranking] = []
    names: set[str] = set()
    for b in baselines:
        log(f"ranking: {b}")
        if b == "given":
            r = rank_given(es)
        elif b == "bm25":
            r = rank_bm25(es)
        elif b == "minilm":
            r = rank_minilm(es)
        elif b == "longest":
            r = rank_longest(es)
        else:
            r = rank_random(es, seed)
        rankings.append(r)
        names.add(r.name)
    model_names: dict[str, str] = {}
    for i, m in enumerate(models):
        label = _unique(model_label(m), names)
        if ray is not None and m not in loaded:
            from rankrag_lite.ranking.distributed import RayScorer, ScorerSpec, work_dir

            scorer = RayScorer(ScorerSpec(m, score=score, batch_size=batch_size, load_in_4bit=load_in_4bit),
                               ray, shard_passages=shard_passages, work=work_dir(out_dir) / f"model-{i}")
        else:
            scorer = get_model(m).scorer
        rankings.append(rank_model(es, scorer, label, progress=progress))
        names.add(label)
        model_names[label] = m
    if fuse and model_names:
        first = _first_stage_ranking(es, rankings)
        for label in list(model_names):
            mr = next(r for r in rankings if r.name == label)
            for f in fuse:
                fused = {it.qid: f.fuse([first.scores[it.qid][p["pid"]] for p in it.passages],
                                        [mr.scores[it.qid][p["pid"]] for p in it.passages]) for it in es.items}
                name = _unique(f"{label}+{f.label}", names)
                rankings.append(from_scores(es, name, f"{label} fused with {first.description} "
                                             f"(W={f.weight:g} on the standardised BM25 score)", fused))
                names.add(name)
    for name, path in (runs or {}).items():
        label = _unique(name, names)
        rankings.append(rank_from_file(es, path, label))
        names.add(label)
    if not rankings:
        raise RankragError("nothing to compare: no rankers, models or runs")

    results = {r.name: ranking_metrics(es, r, ks) for r in rankings}
    columns = list(dict.fromkeys(c for res in results.values() for c in res["mean"]))
    no_gold = es.without_gold_candidates() if es.has_gold else []
    gold_columns = [c for c in columns if not c.startswith("AnswerRecall")]
    answerable = [it.qid for it in es.items if it.qrels and it.qid not in set(no_gold)]
    summary: dict = {
        "dataset": {
            "name": es.name, "format": es.fmt, "questions": len(es.items), "candidates_min": n_min,
            "candidates_max": n_max, "first_stage": es.first_stage,
            "gold": (f"qrels, relevant = grade >= {es.rel_level}" + (" (graded)" if es.graded else ""))
            if es.has_gold else "none",
            "answers": "yes" if es.has_answers else "none", "notes": list(es.notes),
            "judged_questions": sum(1 for it in es.items if it.qrels),
            "no_gold_in_candidates": len(no_gold),
            "no_gold_in_candidates_ids": no_gold[:20],
        },
        "ks": ks,
        "metric_definitions": {
            "Recall@k": "share of the gold passages in the top k (ranx recall@k)",
            "AnswerRecall@k": "a top-k passage contains an answer, DPR has_answer (ranx hit_rate@k)",
            "MRR@10": "reciprocal rank of the first gold passage within the top 10 (ranx mrr@10)",
            "nDCG@10": "graded nDCG@10, linear gain as trec_eval (ranx ndcg@10)",
        },
        "ranking_columns": columns,
        "rankers": {r.name: {"description": r.description, "metrics": results[r.name]["mean"],
                             "curve": results[r.name]["curve"]} for r in rankings},
    }
    if significance is not None:
        summary["significance"] = compare_to(es, rankings, significance, ks)
    if no_gold and answerable:
        summary["answerable_columns"] = gold_columns
        for r in rankings:
            pq = results[r.name]["per_query"]
            summary["rankers"][r.name]["metrics_answerable"] = {
                c: float(sum(pq[q][c] for q in answerable) / len(answerable)) for c in gold_columns
                if all(c in pq.get(q, {}) for q in answerable)}

    answers_by: dict[str, dict[str, dict]] = {}
    if answer:
        from rankrag_lite.generation import METRIC_NOTES, answer_metrics

        a_model = answer_model or models[0]
        answerer = get_model(a_model).answerer(max_new_tokens)
        by_name = {r.name: r for r in rankings}
        default_from = [n for n, m in model_names.items() if m == a_model] or [rankings[-1].name]
        sources = list(answer_from or default_from)
        for src in sources:
            if src not in by_name:
                raise RankragError(f"--answer-from {src!r} is not one of the rankers {list(by_name)}")
        answer_sum: dict[str, dict] = {}
        for src in sources:
            log(f"answering from the top-{answer_k} of {src}")
            order = by_name[src].order
            items = []
            for it in es.items:
                pmap = {p["pid"]: p for p in it.passages}
                items.append((it.question, [pmap[pid] for pid in order[it.qid][:answer_k]]))
            preds = answerer.answer(items)
            rows = {}
            for it, p in zip(es.items, preds):
                rows[it.qid] = {"prediction": p["prediction"], **answer_metrics(p["prediction"], it.answers)}
            answers_by[src] = rows
            answer_sum[src] = mean_answer_metrics(list(rows.values()))
        summary["answers"] = {
            "model": model_label(a_model), "k": answer_k, "max_new_tokens": max_new_tokens,
            "by_ranker": answer_sum,
            "definitions": {"EM": METRIC_NOTES["em"], "F1": METRIC_NOTES["f1"], "Acc": METRIC_NOTES["acc"]},
        }

    per_question = []
    for it in es.items:
        row = {"qid": it.qid, "question": it.question, "answers": it.answers,
               "gold": sorted(pid for pid, g in it.qrels.items() if g >= es.rel_level),
               "n_candidates": len(it.passages), "rankers": {}}
        for r in rankings:
            row["rankers"][r.name] = {"top": r.order[it.qid][:max(10, answer_k)],
                                      **results[r.name]["per_query"].get(it.qid, {})}
        if answers_by:
            row["answers_by"] = {src: rows[it.qid] for src, rows in answers_by.items()}
        per_question.append(row)

    with atomic_dir(out_dir) as tmp:
        write_report(Path(tmp), summary, per_question)
    if ray is not None:  # the report is in place: the scored shards are no longer needed
        from rankrag_lite.ranking.distributed import work_dir

        shutil.rmtree(work_dir(out_dir), ignore_errors=True)
    return summary
