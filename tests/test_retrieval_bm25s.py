"""BM25 retrieval, embedded bm25s backend: build, search, save/load, bad input."""

from __future__ import annotations

import csv
import json

import pytest

from rankrag_lite.errors import RankragError
from rankrag_lite.io import iter_jsonl
from rankrag_lite.retrieval import BM25Index, Hit, build_index, load_index

DOCS = [
    {"id": "hamlet", "title": "Hamlet", "text": "Hamlet is a tragedy written by William Shakespeare."},
    {"id": "macbeth", "title": "Macbeth", "text": "The Scottish play, also by Shakespeare, about ambition."},
    {"id": "python", "title": "Python", "text": "Python's a programming language created by Guido van Rossum."},
    {"id": "stop", "title": "", "text": "the of and"},
]


@pytest.fixture(scope="module")
def scifact(fixtures):
    root = fixtures / "retrieval_scifact"
    docs = list(iter_jsonl(root / "corpus.jsonl.gz"))
    queries = list(iter_jsonl(root / "queries.jsonl"))
    qrels: dict[str, set[str]] = {}
    with open(root / "qrels.tsv", encoding="utf-8") as f:
        for r in csv.DictReader(f, delimiter="\t"):
            qrels.setdefault(r["query-id"], set()).add(r["corpus-id"])
    return docs, queries, qrels


def test_search_returns_hits_best_first_with_text():
    index = build_index(DOCS)
    assert isinstance(index, BM25Index) and index.backend == "bm25s" and len(index) == 4
    [hits] = index.search(["Who wrote the tragedy Hamlet?"], k=3)
    assert hits and isinstance(hits[0], Hit)
    assert hits[0].pid == "hamlet" and hits[0].title == "Hamlet"
    assert hits[0].text == DOCS[0]["text"]
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert hits[0].to_dict() == {"pid": "hamlet", "score": hits[0].score, "title": "Hamlet", "text": DOCS[0]["text"]}


def test_title_is_indexed_and_stemming_applies():
    index = build_index(DOCS)
    [hits] = index.search(["macbeth"], k=5)  # only in the title
    assert [h.pid for h in hits] == ["macbeth"]
    [hits] = index.search(["programs"], k=5)  # Porter: programs / programming -> program
    assert [h.pid for h in hits] == ["python"]
    [hits] = index.search(["Python"], k=5)  # possessive "Python's" indexed as "python"
    assert [h.pid for h in hits] == ["python"]


def test_batch_search_and_k_larger_than_corpus():
    index = build_index(DOCS)
    results = index.search(["shakespeare", "guido", "the of", "zzzunknown", ""], k=100)
    assert len(results) == 5
    assert {h.pid for h in results[0]} == {"hamlet", "macbeth"}
    assert [h.pid for h in results[1]] == ["python"]
    assert results[2] == [] and results[3] == [] and results[4] == []  # stopwords only / no match


def test_only_matching_docs_and_k_cut():
    index = build_index(DOCS)
    [hits] = index.search(["shakespeare"], k=1)
    assert len(hits) == 1


def test_save_load_roundtrip(tmp_path, scifact):
    docs, queries, _ = scifact
    index = build_index(docs)
    index.save(tmp_path / "idx")
    meta = json.loads((tmp_path / "idx" / "meta.json").read_text())
    assert meta["backend"] == "bm25s"
    assert meta["params"] == {"method": "lucene", "k1": 0.9, "b": 0.4, "stopwords": "en", "stemmer": "porter"}
    assert meta["num_docs"] == len(docs)
    loaded = load_index(tmp_path / "idx")
    assert loaded.backend == "bm25s" and len(loaded) == len(docs)
    texts = [q["text"] for q in queries[:20]]
    assert loaded.search(texts, k=10) == index.search(texts, k=10)
    # no temporary folders left beside the index
    assert [p.name for p in tmp_path.iterdir()] == ["idx"]


def test_save_overwrites_existing_index(tmp_path):
    build_index(DOCS).save(tmp_path / "idx")
    build_index(DOCS[:2]).save(tmp_path / "idx")
    assert len(load_index(tmp_path / "idx")) == 2


def test_params_override_and_unknown_param():
    index = build_index(DOCS, k1=1.2, b=0.75)
    assert index.params["k1"] == 1.2 and index.params["b"] == 0.75
    with pytest.raises(RankragError, match="unknown bm25s parameter"):
        build_index(DOCS, k3=1.0)


def test_underscore_id_accepted():
    index = build_index([{"_id": "x1", "title": "T", "text": "some words here"}])
    assert index.search(["words"], k=10)[0][0].pid == "x1"


def test_scifact_recall(scifact):
    docs, queries, qrels = scifact
    index = build_index(docs)
    results = index.search([q["text"] for q in queries], k=10)
    recall = sum(
        len({h.pid for h in hits} & qrels[q["_id"]]) / len(qrels[q["_id"]])
        for q, hits in zip(queries, results)
    ) / len(queries)
    assert recall > 0.85  # 0.93 measured; BM25 on SciFact is a strong baseline


@pytest.mark.parametrize(
    "docs, message",
    [
        ([], "empty corpus"),
        ([{"id": "a", "title": "t"}], "no text"),
        ([{"id": "a", "title": "t", "text": "  "}], "no text"),
        ([{"title": "t", "text": "x"}], "no id"),
        ([{"id": "a", "text": "x"}, {"id": "a", "text": "y"}], "duplicate document id"),
        (["just a string"], "expected an object"),
    ],
)
def test_bad_docs(docs, message):
    with pytest.raises(RankragError, match=message):
        build_index(docs)


def test_unknown_backend():
    with pytest.raises(RankragError, match="unknown BM25 backend"):
        build_index(DOCS, backend="elastic")


def test_bad_search_args():
    index = build_index(DOCS)
    with pytest.raises(RankragError, match="k must be"):
        index.search(["x"], k=0)
    with pytest.raises(RankragError, match="list of queries"):
        index.search("hamlet", k=3)


def test_load_not_an_index(tmp_path):
    with pytest.raises(RankragError, match="not a BM25 index"):
        load_index(tmp_path)
    with pytest.raises(RankragError, match="not a BM25 index"):
        load_index(tmp_path / "missing")
    (tmp_path / "meta.json").write_text('{"format": "other"}')
    with pytest.raises(RankragError, match="not a rankrag-lite BM25 index"):
        load_index(tmp_path)


def test_terms_that_stem_to_nothing_are_dropped():
    # Porter stems a lone "s" (as in "(Wonjong)'s") to "": it must not become a query term
    index = build_index(DOCS + [{"id": "w", "title": "Wonjong", "text": "King Wonjong of Goryeo."}])
    [hits] = index.search(["Who was (Wonjong)'s father?"], k=2)
    assert hits[0].pid == "w"
