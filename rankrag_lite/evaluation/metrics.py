"""Ranking metrics through ranx (no hand-written IR metrics); answer metrics live in ``rankrag_lite.answers``.

- ``Recall@k``: share of the gold passages (qrels grade >= the set's relevance level) in the top k
  (ranx ``recall@k-lN``).
- ``AnswerRecall@k``: a top-k passage contains an answer (DPR ``has_answer``), i.e. ranx
  ``hit_rate@k`` against has-answer labels.
- ``MRR@10`` (ranx ``mrr@10-lN``) and, for graded qrels, ``nDCG@10`` (ranx ``ndcg@10``: linear gain,
  as trec_eval).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np

from rankrag_lite.evaluation.datasets import EvalSet
from rankrag_lite.evaluation.rankers import Ranking

CURVE_MAX = 20


def ranx_run(ranking: Ranking, qids: Sequence[str]) -> dict[str, dict[str, float]]:
    """Ranks as strictly decreasing scores (so ranx keeps the ranker's tie-breaking)."""
    out = {}
    for qid in qids:
        pids = ranking.order[qid]
        out[qid] = {pid: float(len(pids) - r) for r, pid in enumerate(pids)}
    return out


def _ranx(qrels: dict, run: dict, metrics: list[str]) -> dict[str, np.ndarray]:
    import warnings

    from ranx import Qrels, Run, evaluate

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # numba type-safety chatter
        res = evaluate(Qrels(qrels), Run(run), metrics, return_mean=False, make_comparable=True)
    if len(metrics) == 1:
        res = {metrics[0]: res}
    return {m: np.asarray(v, dtype=float) for m, v in res.items()}


def ranking_metrics(es: EvalSet, ranking: Ranking, ks: Sequence[int], curve_max: int = CURVE_MAX) -> dict:
    """``{"mean": {metric: value}, "per_query": {qid: {metric: value}}, "curve": {name: [k=1..]}}``."""
    mean: dict[str, float] = {}
    per_query: dict[str, dict[str, float]] = {}
    curve: dict[str, list[float]] = {}
    ks = sorted(set(int(k) for k in ks))
    curve_ks = list(range(1, curve_max + 1))

    def add(qrels, named: dict[str, str], curve_name: str | None, curve_metric: str | None):
        qids = sorted(qrels)
        if not qids:
            return
        run = ranx_run(ranking, qids)
        metrics = list(dict.fromkeys(list(named.values()) + (
            [curve_metric.format(k=k) for k in curve_ks] if curve_metric else [])))
        res = _ranx(qrels, run, metrics)
        # ranx returns per-query arrays in the (sorted) qrels order
        order = Qrels_ids(qrels)
        for label, m in named.items():
            mean[label] = float(res[m].mean())
            for qid, v in zip(order, res[m]):
                per_query.setdefault(qid, {})[label] = float(v)
        if curve_metric:
            curve[curve_name] = [float(res[curve_metric.format(k=k)].mean()) for k in curve_ks]

    if es.has_gold:
        add(es.gold_qrels(), _gold_metric_names(es, ks), "Recall", f"recall@{{k}}-l{es.rel_level}")
    if es.has_answers:
        add(es.answer_qrels(), {f"AnswerRecall@{k}": f"hit_rate@{k}" for k in ks}, "AnswerRecall",
            "hit_rate@{k}")
    return {"mean": mean, "per_query": per_query, "curve": curve}


def _gold_metric_names(es: EvalSet, ks: Sequence[int]) -> dict[str, str]:
    """The report's gold-label columns and their ranx metric names."""
    lvl = es.rel_level
    named = {f"Recall@{k}": f"recall@{k}-l{lvl}" for k in sorted(set(int(k) for k in ks))}
    named["MRR@10"] = f"mrr@10-l{lvl}"
    if es.graded:
        named["nDCG@10"] = "ndcg@10"
    return named


#: the paired test of ``compare_to``: Fisher's randomization test (ranx), its permutations and seed
SIGNIFICANCE_TEST = {"test": "fisher", "permutations": 10000, "seed": 42}


@functools.cache
def _seed_numba_workers():
    """A numba function that seeds the random state of the threads running a parallel loop (numba keeps
    one per thread; ``np.random.seed`` in plain code seeds the caller's alone)."""
    import numba
    import numpy as np

    @numba.njit(parallel=True)
    def seed(value, n):
        for _ in numba.prange(n):
            np.random.seed(value)

    return seed


def compare_to(es: EvalSet, rankings: Sequence[Ranking], reference: str, ks: Sequence[int]) -> dict:
    """Each ranking against ``reference`` on the gold-label columns, question by question (ranx
    ``compare``: a two-sided paired randomization test; ``p`` is the chance of a mean difference at least
    this large if the two rankers were interchangeable). Returns ``{"reference", "test", "questions",
    "rankers": {name: {column: {"mean", "delta", "p", "wins", "ties", "losses"}}}}``; wins count the
    questions where the ranker beats the reference."""
    import warnings

    from ranx import Qrels, Run, compare

    if reference not in {r.name for r in rankings}:
        raise ValueError(f"no ranker {reference!r} to compare against")
    qrels = es.gold_qrels()
    qids = sorted(qrels)
    named = _gold_metric_names(es, ks)
    runs = []
    for r in rankings:
        run = Run(ranx_run(r, qids))
        run.name = r.name
        runs.append(run)
    import numba

    # ranx draws the permutations in a parallel numba loop; its seed reaches the calling thread only, so
    # the p-values moved by about 0.01 from run to run. One numba thread, seeded too, makes it hold.
    threads = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        _seed_numba_workers()(SIGNIFICANCE_TEST["seed"], 1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # numba type-safety chatter
            rep = compare(Qrels(qrels), runs, list(named.values()), stat_test=SIGNIFICANCE_TEST["test"],
                          n_permutations=SIGNIFICANCE_TEST["permutations"], random_seed=SIGNIFICANCE_TEST["seed"],
                          make_comparable=True)
    finally:
        numba.set_num_threads(threads)
    out: dict = {"reference": reference, **SIGNIFICANCE_TEST, "questions": len(qids), "rankers": {}}
    for r in rankings:
        if r.name == reference:
            continue
        pair = rep.comparisons[frozenset([reference, r.name])]
        wtl = rep.win_tie_loss[(r.name, reference)]
        out["rankers"][r.name] = {
            col: {"mean": rep.results[r.name][m], "delta": rep.results[r.name][m] - rep.results[reference][m],
                  "p": float(pair[m]["p_value"]), "wins": wtl[m]["W"], "ties": wtl[m]["T"], "losses": wtl[m]["L"]}
            for col, m in named.items()}
    return out


def Qrels_ids(qrels: dict) -> list[str]:
    """Query ids in the order ranx reports them (its Qrels keeps insertion order of a dict)."""
    from ranx import Qrels

    return list(Qrels(qrels).get_query_ids())

