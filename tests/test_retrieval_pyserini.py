"""BM25 retrieval, Lucene backend through Pyserini (the ``pyserini`` extra and a JVM; runs in CI).

Also the agreement test: on a real corpus (400 SciFact abstracts, 100 claims) the embedded bm25s
backend and Lucene return nearly the same top-10.
"""

from __future__ import annotations

import json

import pytest

from rankrag_lite.errors import RankragError
from rankrag_lite.io import iter_jsonl
from rankrag_lite.retrieval import build_index, load_index

pytestmark = pytest.mark.pyserini

DOCS = [
    {"id": "hamlet", "title": "Hamlet", "text": "Hamlet is a tragedy written by William Shakespeare."},
    {"id": "macbeth", "title": "Macbeth", "text": "The Scottish play, also by Shakespeare, about ambition."},
    {"id": "python", "title": "Python", "text": "Python's a programming language created by Guido van Rossum."},
]


@pytest.fixture(scope="module")
def scifact(fixtures):
    root = fixtures / "retrieval_scifact"
    return list(iter_jsonl(root / "corpus.jsonl.gz")), list(iter_jsonl(root / "queries.jsonl"))


@pytest.fixture(scope="module")
def lucene_scifact(scifact):
    return build_index(scifact[0], backend="pyserini")


def test_search_hits_with_text():
    index = build_index(DOCS, backend="pyserini")
    assert index.backend == "pyserini" and len(index) == 3
    hamlet, shakespeare, programs, none = index.search(
        ["Who wrote the tragedy Hamlet?", "shakespeare", "programs", "zzzunknown the"], k=100
    )
    assert hamlet[0].pid == "hamlet" and hamlet[0].title == "Hamlet" and hamlet[0].text == DOCS[0]["text"]
    assert {h.pid for h in shakespeare} == {"hamlet", "macbeth"}
    assert [h.score for h in shakespeare] == sorted((h.score for h in shakespeare), reverse=True)
    assert [h.pid for h in programs] == ["python"]  # Porter stemming, title + text indexed
    assert none == []


def test_save_load_roundtrip(tmp_path, lucene_scifact, scifact):
    _, queries = scifact
    lucene_scifact.save(tmp_path / "idx")
    meta = json.loads((tmp_path / "idx" / "meta.json").read_text())
    assert meta["backend"] == "pyserini" and meta["params"]["k1"] == 0.9 and meta["params"]["b"] == 0.4
    loaded = load_index(tmp_path / "idx")
    assert loaded.backend == "pyserini" and len(loaded) == 400
    texts = [q["text"] for q in queries[:10]]
    assert loaded.search(texts, k=10) == lucene_scifact.search(texts, k=10)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["idx"]


def test_backends_agree_on_scifact(lucene_scifact, scifact):
    docs, queries = scifact
    texts = [q["text"] for q in queries]
    lucene = lucene_scifact.search(texts, k=10)
    embedded = build_index(docs, backend="bm25s").search(texts, k=10)
    overlaps = []
    for a, b in zip(lucene, embedded):
        assert len(a) == len(b) == 10
        overlaps.append(len({h.pid for h in a} & {h.pid for h in b}) / 10)
    mean = sum(overlaps) / len(overlaps)
    top1 = sum(a[0].pid == b[0].pid for a, b in zip(lucene, embedded)) / len(lucene)
    assert mean >= 0.9, f"top-10 overlap {mean:.3f}"  # 0.982 measured
    assert top1 >= 0.9, f"top-1 agreement {top1:.3f}"  # 1.0 measured


def test_bad_input():
    with pytest.raises(RankragError, match="empty corpus"):
        build_index([], backend="pyserini")
    with pytest.raises(RankragError, match="no text"):
        build_index([{"id": "a", "title": "only a title"}], backend="pyserini")
    with pytest.raises(RankragError, match="unknown pyserini parameter"):
        build_index(DOCS, backend="pyserini", method="robertson")
