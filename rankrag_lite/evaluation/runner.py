"""``evaluate``: several rankers side by side on one evaluation set, plus answers from a top-k.

:func:`evaluate` is a list of numbered steps, each a function below: check every input
(:func:`_check_inputs`); build the rows (:func:`_build_rankers`: the baselines, the models, each
model's fusions, every one a :class:`~rankrag_lite.evaluation.rankers.Ranker`, then the runs read
from files); rank (one loop over the rankers); metrics (ranx) and the paired comparison
(:func:`_summary`); answers from a top-k (:func:`_answer`); the report folder (:func:`_write`).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from pathlib import Path

from rankrag_lite.answers import METRIC_LABELS, METRIC_NOTES, answer_metrics, mean_answer_metrics
from rankrag_lite.errors import RankragError
from rankrag_lite.evaluation.datasets import EvalSet
from rankrag_lite.evaluation.metrics import compare_to, ranking_metrics
from rankrag_lite.evaluation.rankers import (
    BASELINES,
    BM25Ranker,
    FirstStageRanker,
    FusionRanker,
    ModelRanker,
    Ranker,
    Ranking,
    Remembered,
    baseline,
    rank,
    rank_from_file,
)
from rankrag_lite.evaluation.report import run_files, write_report, write_runs
from rankrag_lite.io import atomic_dir
from rankrag_lite.progress import log, make_progress

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
    # 1. check every input before the first passage is scored
    baselines, ks, answer = _check_inputs(es, baselines, models, runs or {}, ks, score, answer, answer_k,
                                          answer_model, answer_from, significance, fuse, loaded or {})
    # 2. build the rows: baselines, models, fusions (rankers), then the runs read from files
    loaded_models = _Models(loaded, {"score": score, "batch_size": batch_size, "load_in_4bit": load_in_4bit})
    rankers, model_names = _build_rankers(es, baselines, models, loaded_models, seed=seed, fuse=fuse, ray=ray,
                                          shard_passages=shard_passages, out_dir=out_dir, progress=progress)
    runs = _run_rows(runs or {}, {r.name for r in rankers})
    answer_model = answer_model or (models[0] if models else None)
    sources = _answer_sources(answer_from, [*(r.name for r in rankers), *runs], model_names, answer_model) \
        if answer else []
    # 3. rank: every ranker the same way, then the runs
    rankings: list[Ranking] = []
    for ranker in rankers:
        log(f"ranking: {ranker.name}")
        rankings.append(rank(es, ranker))
    rankings += [rank_from_file(es, path, label) for label, path in runs.items()]
    # 4. metrics (ranx) and the paired comparison
    results = {r.name: ranking_metrics(es, r, ks) for r in rankings}
    sig = compare_to(es, rankings, significance, ks) if significance is not None else None
    summary = _summary(es, rankings, results, ks, sig)
    # 5. answers from the top-k of the source rows
    answers_by: dict[str, dict[str, dict]] = {}
    if answer:
        answers_by = _answer(es, rankings, sources, loaded_models.get(answer_model).answerer(max_new_tokens), answer_k,
                             progress)
        summary["answers"] = _answers_summary(answers_by, answer_model, answer_k, max_new_tokens)
    # 6. the report folder, whole or not at all
    _write(out_dir, summary, _per_question(es, rankings, results, answers_by, answer_k), rankings, ray)
    return summary


def _check_inputs(es: EvalSet, baselines, models, runs: dict, ks, score: str, answer, answer_k: int,
                  answer_model, answer_from, significance, fuse, loaded: dict) -> tuple[list[str], list[int], bool]:
    """Every setting checked before the first passage is scored; returns the baselines (the set's
    default where none are given), the sorted cut-offs and whether answers are generated (by default
    when a model is given and the set has answers, and always when an answer option is given)."""
    from rankrag_lite.modeling.loading import resolve_model
    from rankrag_lite.ranking.scorer import check_method

    check_method(score)
    baselines = list(default_baselines(es) if baselines is None else baselines)
    for b in baselines:
        if b not in BASELINES:
            raise RankragError(f"unknown ranker {b!r}; baselines are {list(BASELINES)} (models: --model)")
    ks = sorted(set(int(k) for k in ks))
    if not ks or ks[0] < 1:
        raise RankragError("k values must be positive integers")
    asked = [o for o, v in (("--answer-model", answer_model), ("--answer-from", answer_from)) if v]
    if answer is False and asked:
        raise RankragError(f"{' and '.join(asked)} ask for answers, --no-answer for none: drop one")
    if answer is None:
        answer = bool(asked) or (bool(models) and es.has_answers)
    if answer:
        n_min = min(len(it.passages) for it in es.items)
        if not es.has_answers:
            raise RankragError(f"{es.name} has no answers to evaluate answers against")
        if answer_k < 1 or answer_k > n_min:
            raise RankragError(f"--answer-k {answer_k} is larger than the candidates of some question ({n_min})"
                               if answer_k > n_min else "--answer-k must be at least 1")
        if not models and not answer_model:
            raise RankragError("answering needs a model: pass --model (or --answer-model)")
    for m in [*models, *([answer_model] if answer_model else [])]:
        if m not in loaded:
            resolve_model(m)
    if significance is not None:
        if not es.has_gold:
            raise RankragError(f"--significance needs gold labels; {es.name} has none")
        rows = [*baselines, *(model_label(m) for m in models), *runs]
        rows += [f"{model_label(m)}+{f.label}" for m in models for f in fuse]
        if significance not in rows:
            raise RankragError(f"--significance {significance!r} is not one of the rows {rows}")
    if not baselines and not models and not runs:
        raise RankragError("nothing to compare: no rankers, models or runs")
    return baselines, ks, bool(answer)


class _Models:
    """The models of one evaluation, each loaded once (``loaded``: some already loaded) and wrapped
    with the run's scorer ``settings`` (``score``, ``batch_size``, ``load_in_4bit``)."""

    def __init__(self, loaded: dict | None, settings: dict):
        self.loaded = dict(loaded or {})
        self.settings = settings

    def get(self, name: str):
        from rankrag_lite.model import RankRAG

        if name not in self.loaded:
            log(f"loading model {name}")
            self.loaded[name] = RankRAG.from_pretrained(name, **self.settings)
        return RankRAG.wrap(self.loaded[name], batch_size=self.settings["batch_size"], score=self.settings["score"])


def _build_rankers(es: EvalSet, baselines: list[str], models: Sequence[str], loaded_models: _Models, *,
                   seed: int, fuse: Sequence, ray, shard_passages: int, out_dir,
                   progress: bool) -> tuple[list[Ranker], dict[str, str]]:
    """The rows, in report order: the baselines, a :class:`ModelRanker` per model (labelled by its
    name, made unique; scored on Ray with ``ray``), each model's fusions. Each scores a question once
    however many rows read it. Returns the rankers and ``{model row: model name}``."""
    rankers: list[Ranker] = [Remembered(baseline(b, es, seed)) for b in baselines]
    names = {r.name for r in rankers}
    model_rows: list[Ranker] = []
    model_names: dict[str, str] = {}
    for i, m in enumerate(models):
        label = _unique(model_label(m), names)
        if ray is not None and m not in loaded_models.loaded:
            from rankrag_lite.ranking.distributed import RayScorer, ScorerSpec, work_dir

            scorer = RayScorer(ScorerSpec(m, **loaded_models.settings), ray, shard_passages=shard_passages,
                               work=work_dir(out_dir) / f"model-{i}")
        else:
            scorer = loaded_models.get(m).scorer
        model_rows.append(Remembered(ModelRanker(scorer, label, progress=progress)))
        names.add(label)
        model_names[label] = m
    rankers += model_rows
    if fuse and model_rows:
        first = _first_stage(es, rankers)
        for mr in model_rows:
            for f in fuse:
                name = _unique(f"{mr.name}+{f.label}", names)
                rankers.append(FusionRanker(first, mr, f, name))
                names.add(name)
    return rankers, model_names


def _first_stage(es: EvalSet, rankers: Sequence[Ranker]) -> Ranker:
    """The BM25 scores fusion uses: the set's own first-stage scores where every candidate has one
    (a retrieval run), else BM25 recomputed over each question's candidates (the ``bm25`` row's, when
    there is one)."""
    if es.has_order and all(isinstance(p.get("score"), (int, float)) for it in es.items for p in it.passages):
        return FirstStageRanker(es.first_stage)
    bm25 = next((r for r in rankers if isinstance(getattr(r, "ranker", r), BM25Ranker)), None)
    return bm25 or Remembered(BM25Ranker())


def _run_rows(runs: dict[str, str], taken: set[str]) -> dict[str, str]:
    """``{row name: run file}``: each ``--run`` named uniquely after the rankers' rows."""
    rows: dict[str, str] = {}
    for name, path in runs.items():
        rows[_unique(name, taken | set(rows))] = path
    return rows


def _answer_sources(answer_from, rows: list[str], model_names: dict[str, str], a_model: str) -> list[str]:
    """The rows whose top-k is answered: ``answer_from``, else the answering model's own row (else
    the last row)."""
    default = [n for n, m in model_names.items() if m == a_model] or [rows[-1]]
    sources = list(answer_from or default)
    for src in sources:
        if src not in rows:
            raise RankragError(f"--answer-from {src!r} is not one of the rankers {rows}")
    return sources


def _summary(es: EvalSet, rankings: list[Ranking], results: dict, ks: list[int],
             significance: dict | None) -> dict:
    """What ``metrics.json`` holds: the set, the metric definitions, each row's means and Recall@k
    curve, the paired comparison, and the means over the answerable questions where some have no gold
    passage among their candidates."""
    n_min = min(len(it.passages) for it in es.items)
    n_max = max(len(it.passages) for it in es.items)
    columns = list(dict.fromkeys(c for res in results.values() for c in res["mean"]))
    no_gold = es.without_gold_candidates() if es.has_gold else []
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
        summary["significance"] = significance
    answerable = [it.qid for it in es.items if it.qrels and it.qid not in set(no_gold)]
    if no_gold and answerable:
        gold_columns = [c for c in columns if not c.startswith("AnswerRecall")]
        summary["answerable_columns"] = gold_columns
        for r in rankings:
            pq = results[r.name]["per_query"]
            summary["rankers"][r.name]["metrics_answerable"] = {
                c: float(sum(pq[q][c] for q in answerable) / len(answerable)) for c in gold_columns
                if all(c in pq.get(q, {}) for q in answerable)}
    return summary


def _answer(es: EvalSet, rankings: list[Ranking], sources: list[str], answerer,
            k: int, progress: bool = True) -> dict[str, dict[str, dict]]:
    """``{row: {qid: {prediction, em, f1, acc}}}``: each question answered from the top ``k`` of each
    source row; a progress bar counts the questions answered."""
    by_name = {r.name: r for r in rankings}
    answers_by: dict[str, dict[str, dict]] = {}
    for src in sources:
        log(f"answering from the top-{k} of {src}")
        order = by_name[src].order
        items = []
        for it in es.items:
            pmap = {p["pid"]: p for p in it.passages}
            items.append((it.question, [pmap[pid] for pid in order[it.qid][:k]]))
        with make_progress() as bar:
            t = bar.add_task(f"Answering ({src})", total=len(items), info="questions")
            if not progress:
                bar.update(t, visible=False)
            preds = answerer.answer(items, on_batch=lambda n: bar.advance(t, n))
        answers_by[src] = {it.qid: {"prediction": p["prediction"], **answer_metrics(p["prediction"], it.answers)}
                           for it, p in zip(es.items, preds)}
    return answers_by


def _answers_summary(answers_by: dict[str, dict[str, dict]], a_model: str, k: int, max_new_tokens: int) -> dict:
    """The summary's ``answers``: the mean metrics per source row, spelt as the report's columns."""
    return {
        "model": model_label(a_model), "k": k, "max_new_tokens": max_new_tokens,
        "by_ranker": {src: {METRIC_LABELS[key]: v for key, v in mean_answer_metrics(rows.values()).items()}
                      for src, rows in answers_by.items()},
        "definitions": {METRIC_LABELS[key]: note for key, note in METRIC_NOTES.items()},
    }


def _per_question(es: EvalSet, rankings: list[Ranking], results: dict, answers_by: dict,
                  answer_k: int) -> list[dict]:
    """The rows of ``per_question.jsonl``: each question's gold, each row's top and metrics, answers."""
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
    return per_question


def _write(out_dir, summary: dict, per_question: list[dict], rankings: list[Ranking], ray) -> None:
    """The report folder (with each row's run), written whole or not at all; then the Ray shards are
    no longer needed."""
    files = run_files([r.name for r in rankings])
    summary["runs"] = files
    with atomic_dir(out_dir) as tmp:
        write_report(Path(tmp), summary, per_question)
        write_runs(Path(tmp), files, rankings)
    if ray is not None:
        from rankrag_lite.ranking.distributed import work_dir

        shutil.rmtree(work_dir(out_dir), ignore_errors=True)
