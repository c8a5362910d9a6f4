"""BM25 hard negatives: passages that score high for a query but are not one of its positives.

    from rankrag_lite.data.hard_negatives import mine_hard_negatives
    negs = mine_hard_negatives(["who wrote hamlet"], corpus, positives=[[0]], answers=[["Shakespeare"]])
    # -> [[{"corpus_id", "score", "title", "text"}, ...]], best BM25 score first

The lexical counterpart of sentence-transformers' ``util.mine_hard_negatives`` (which mines with an
embedding model): one BM25 search over the corpus per query, then the candidates in rank order,
dropping a query's positives, repeats, empty passages and, when the query's answers are given,
every passage whose title or text contains one (DPR's answer match): such a passage is a false
negative for a question. The Stage-2 blend (:mod:`rankrag_lite.data.blend`) mines its ranking,
RA-QA and RA-ranking negatives with the same two steps, :func:`bm25_hits` and
:func:`select_negatives`.

Two passages are the same passage when their titles are equal and their texts are equal up to
whitespace (:func:`passage_key`); a passage is a string (no title), a ``{"title", "text"}`` mapping
or an object with ``.text`` and ``.title`` (a :class:`~rankrag_lite.data.schemas.Passage`, a
retrieval hit).
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from rankrag_lite.answers import has_answer

SAMPLING = ("top", "random")


def _title_text(p: Any) -> tuple[str, str]:
    if isinstance(p, str):
        return "", p
    if isinstance(p, Mapping):
        return p.get("title") or "", p.get("text", "")
    return p.title or "", p.text


def passage_key(p: Any) -> tuple[str, str]:
    """``(title, text with its whitespace runs collapsed)``: what makes two passages the same one."""
    title, text = _title_text(p)
    return title, " ".join(text.split())


def bm25_hits(queries: Sequence[str], docs: list[dict], *, k: int, backend: str = "bm25s") -> list[list]:
    """Index ``docs`` (``{"id", "title", "text"}``) with BM25 and return the top ``k`` hits of each
    query (:class:`~rankrag_lite.retrieval.Hit`, best first); ``k`` is capped at the corpus size."""
    from rankrag_lite.retrieval import build_index

    index = build_index(docs, backend=backend)
    return index.search(list(queries), k=min(len(docs), k))


def select_negatives(candidates: Sequence[Any], *, positives: Sequence[Any] = (),
                     answers: Sequence[str] = ()) -> list[int]:
    """The positions of the ``candidates`` that are negatives, in their order: a candidate is dropped
    when its text is empty, when it is one of ``positives`` or an earlier candidate, and, with
    ``answers``, when its title or text contains an answer (checked on the whole passage)."""
    taken = {passage_key(p) for p in positives}
    keep: list[int] = []
    for i, c in enumerate(candidates):
        key = passage_key(c)
        if key in taken or not key[1]:
            continue
        if answers:
            title, text = _title_text(c)
            if has_answer(answers, f"{title}\n{text}"):  # the title too: a model reads it
                continue
        taken.add(key)
        keep.append(i)
    return keep


def mine_hard_negatives(
    queries: Sequence[str],
    corpus: Sequence[str | Mapping],
    *,
    positives: Sequence[Any] | None = None,
    answers: Sequence[Any] | None = None,
    num_negatives: int | None = 3,
    depth: int = 20,
    sampling: Literal["top", "random"] = "top",
    seed: int = 0,
    backend: str = "bm25s",
) -> list[list[dict]]:
    """BM25 hard negatives for each query, from ``corpus``.

    - ``queries``: the query strings.
    - ``corpus``: the passages to mine from: strings or ``{"title", "text"}`` mappings (title and
      text are both indexed). Passages with empty text are left out.
    - ``positives``: per query, its positive passages (a corpus position, a string or a mapping; one
      or a list of them). They are never returned.
    - ``answers``: per query, its answer strings (one or a list); a passage containing one is never
      returned. Leave out for queries without answers (ranking data).
    - ``num_negatives``: negatives per query at most (``None``: every candidate that qualifies).
    - ``depth``: candidates searched per query: the top ``depth + P`` BM25 hits, ``P`` the most
      positives any query has (so a query's own positives cannot crowd out its candidates).
    - ``sampling``: ``"top"`` keeps the best-scored negatives; ``"random"`` draws ``num_negatives``
      of the qualifying candidates, with ``seed`` (the same seed gives the same negatives).
    - ``backend``: the BM25 backend, ``"bm25s"`` or ``"pyserini"``.

    Returns, per query, ``[{"corpus_id", "score", "title", "text"}]`` in BM25 order, ``corpus_id``
    being the passage's position in ``corpus``. A query may get fewer than ``num_negatives``.
    Wrong types raise ``TypeError``, impossible values ``ValueError``.
    """
    from rankrag_lite.retrieval.base import BACKENDS

    queries = _strings(queries, "queries")
    corpus = _passages(corpus, "corpus")
    n = len(queries)
    pos = [_one_or_many(p, f"positives[{i}]", corpus) for i, p in enumerate(_per_query(positives, n, "positives"))]
    ans = [_answers(a, f"answers[{i}]") for i, a in enumerate(_per_query(answers, n, "answers"))]
    if num_negatives is not None:
        _check_int(num_negatives, "num_negatives")
    _check_int(depth, "depth")
    if sampling not in SAMPLING:
        raise ValueError(f"sampling must be one of {list(SAMPLING)}, got {sampling!r}")
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise TypeError(f"seed must be an integer, got {seed!r}")
    if backend not in BACKENDS:
        raise ValueError(f"unknown BM25 backend {backend!r}; choose one of {list(BACKENDS)}")
    docs = []
    for i, p in enumerate(corpus):
        title, text = _title_text(p)
        if text.strip():  # an empty passage is never a negative
            docs.append({"id": str(i), "title": title, "text": text})
    if not docs:
        raise ValueError("corpus: no passage with text")
    if not queries:
        return []
    hits = bm25_hits(queries, docs, k=depth + max(len(p) for p in pos), backend=backend)
    out: list[list[dict]] = []
    for i, hs in enumerate(hits):
        keep = select_negatives(hs, positives=pos[i], answers=ans[i])
        if num_negatives is not None and len(keep) > num_negatives:
            if sampling == "random":
                keep = sorted(random.Random(f"{seed}|{i}").sample(keep, num_negatives))
            else:
                keep = keep[:num_negatives]
        out.append([{"corpus_id": int(hs[j].pid), "score": float(hs[j].score), "title": hs[j].title,
                     "text": hs[j].text} for j in keep])
    return out


# --- argument checks (API misuse: TypeError / ValueError) -------------------------------------------


def _check_int(v: Any, name: str) -> None:
    if not isinstance(v, int) or isinstance(v, bool):
        raise TypeError(f"{name} must be an integer, got {v!r}")
    if v < 1:
        raise ValueError(f"{name} must be >= 1, got {v}")


def _strings(v: Any, name: str) -> list[str]:
    if isinstance(v, str) or not isinstance(v, Sequence):
        raise TypeError(f"{name} must be a list of strings, got {type(v).__name__}")
    for i, s in enumerate(v):
        if not isinstance(s, str):
            raise TypeError(f"{name}[{i}] must be a string, got {type(s).__name__}")
    return list(v)


def _passage(p: Any, name: str) -> Any:
    if isinstance(p, str):
        return p
    if isinstance(p, Mapping):
        if not isinstance(p.get("text"), str) or not isinstance(p.get("title") or "", str):
            raise TypeError(f"{name} must have a string 'text' (and an optional string 'title')")
        return p
    raise TypeError(f"{name} must be a string or a {{'title', 'text'}} mapping, got {type(p).__name__}")


def _passages(v: Any, name: str) -> list:
    if isinstance(v, (str, Mapping)) or not isinstance(v, Sequence):
        raise TypeError(f"{name} must be a list of passages, got {type(v).__name__}")
    return [_passage(p, f"{name}[{i}]") for i, p in enumerate(v)]


def _per_query(v: Any, n: int, name: str) -> list:
    if v is None:
        return [()] * n
    if isinstance(v, (str, Mapping)) or not isinstance(v, Sequence):
        raise TypeError(f"{name} must be a list with one entry per query, got {type(v).__name__}")
    if len(v) != n:
        raise ValueError(f"{name} has {len(v)} entries for {n} queries")
    return list(v)


def _one_or_many(v: Any, name: str, corpus: list) -> list:
    items = [v] if isinstance(v, (int, str, Mapping)) else v
    if not isinstance(items, Sequence):
        raise TypeError(f"{name} must be a passage or a list of passages, got {type(v).__name__}")
    out = []
    for j, p in enumerate(items):
        if isinstance(p, int) and not isinstance(p, bool):
            if not 0 <= p < len(corpus):
                raise ValueError(f"{name}: corpus position {p} is not in a corpus of {len(corpus)} passages")
            p = corpus[p]
        out.append(_passage(p, f"{name}[{j}]" if items is v else name))
    return out


def _answers(v: Any, name: str) -> list[str]:
    return [v] if isinstance(v, str) else _strings(v, name)
