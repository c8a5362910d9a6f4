"""`rankrag-lite index` and `rankrag-lite retrieve` through typer's CliRunner."""

from __future__ import annotations

import gzip
import json

import pytest
from typer.testing import CliRunner

from cli_helpers import cli
from rankrag_lite.cli import app
from rankrag_lite.io import read_jsonl
from rankrag_lite.retrieval import load_index
from rankrag_lite.retrieval.files import read_queries

runner = CliRunner()

DOCS = [
    {"_id": "hamlet", "title": "Hamlet", "text": "Hamlet is a tragedy written by William Shakespeare."},
    {"_id": "macbeth", "title": "Macbeth", "text": "The Scottish play, also by Shakespeare, about ambition."},
    {"_id": "python", "title": "Python", "text": "Python is a programming language by Guido van Rossum."},
]


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def write_jsonl(path, records, gz=False):
    opener = gzip.open if gz else open
    with opener(path, "wt", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(r) + "\n")
    return path


@pytest.fixture
def corpus(tmp_path):
    return write_jsonl(tmp_path / "corpus.jsonl.gz", DOCS, gz=True)


@pytest.fixture
def index_dir(tmp_path, corpus):
    result = invoke("index", "--corpus", corpus, "--out", tmp_path / "idx")
    assert result.exit_code == 0, result.output
    return tmp_path / "idx"


def test_index_then_retrieve_jsonl_and_trec(tmp_path, index_dir):
    assert load_index(index_dir).backend == "bm25s"
    queries = write_jsonl(tmp_path / "q.jsonl", [{"qid": "q1", "question": "who wrote hamlet"},
                                                 {"id": "q2", "query": "shakespeare"},
                                                 {"_id": "q3", "text": "nothing matches zzz"}])
    out, run = tmp_path / "out" / "cand.jsonl", tmp_path / "out" / "run.trec"
    result = invoke("retrieve", "--index", index_dir, "--queries", queries, "--out", out,
                    "--k", 2, "--run", run)
    assert result.exit_code == 0, result.output
    recs = read_jsonl(out)
    assert [r["qid"] for r in recs] == ["q1", "q2", "q3"]
    assert recs[0]["question"] == "who wrote hamlet"
    p = recs[0]["passages"][0]
    assert set(p) == {"pid", "title", "text", "score"}
    assert p["pid"] == "hamlet" and p["title"] == "Hamlet" and p["text"] == DOCS[0]["text"]
    assert len(recs[1]["passages"]) == 2 and recs[2]["passages"] == []
    lines = [line.split() for line in run.read_text().splitlines()]
    assert lines[0][:4] == ["q1", "Q0", "hamlet", "1"] and lines[0][5] == "bm25-bm25s"
    assert [(row[0], row[3]) for row in lines] == [("q1", "1"), ("q2", "1"), ("q2", "2")]
    assert float(lines[1][4]) >= float(lines[2][4])
    assert sorted(x.name for x in out.parent.iterdir()) == ["cand.jsonl", "run.trec"]


def test_retrieve_tsv_queries_and_default_k(tmp_path, index_dir):
    queries = tmp_path / "topics.tsv"
    queries.write_text("101\tshakespeare play\n102\tguido python\n", encoding="utf-8")
    out = tmp_path / "cand.jsonl"
    result = invoke("retrieve", "--index", index_dir, "--queries", queries, "--out", out)
    assert result.exit_code == 0, result.output
    recs = read_jsonl(out)
    assert [r["qid"] for r in recs] == ["101", "102"]
    assert len(recs[0]["passages"]) == 2  # k=100 > corpus: only the matching documents
    assert recs[1]["passages"][0]["pid"] == "python"


def test_queries_formats_sniffed(tmp_path):
    f = tmp_path / "queries"
    f.write_text('{"qid": 1, "question": "a b"}\n', encoding="utf-8")
    assert read_queries(f) == [("1", "a b")]
    f.write_text("7\tq seven\n", encoding="utf-8")
    assert read_queries(f) == [("7", "q seven")]


@pytest.mark.parametrize(
    "records, message",
    [
        ([], "empty corpus"),
        ([{"id": "a", "title": "no text"}], "no text"),
        ([{"title": "t", "text": "x"}], "no id"),
    ],
)
def test_index_bad_corpus(tmp_path, records, message):
    corpus = write_jsonl(tmp_path / "c.jsonl", records)
    result = invoke("index", "--corpus", corpus, "--out", tmp_path / "idx")
    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output
    assert not (tmp_path / "idx").exists()
    assert sorted(x.name for x in tmp_path.iterdir()) == ["c.jsonl"]


def test_index_missing_file_and_unknown_backend(tmp_path, corpus):
    result = invoke("index", "--corpus", tmp_path / "missing.jsonl", "--out", tmp_path / "idx")
    assert result.exit_code == 2 and "not found" in result.output
    result = invoke("index", "--corpus", corpus, "--out", tmp_path / "idx", "--backend", "elastic")
    assert result.exit_code == 2 and "unknown BM25 backend" in result.output
    assert not (tmp_path / "idx").exists()


def test_index_malformed_json(tmp_path):
    bad = tmp_path / "c.jsonl"
    bad.write_text('{"id": "a", "text": "x"}\n{not json\n', encoding="utf-8")
    result = invoke("index", "--corpus", bad, "--out", tmp_path / "idx")
    assert result.exit_code == 2 and ":2: not valid JSON" in result.output
    assert not (tmp_path / "idx").exists()


@pytest.mark.parametrize(
    "content, message",
    [
        ("", "no queries"),
        ('{"question": "no id"}\n', "no qid"),
        ('{"qid": "1"}\n', "no question"),
        ('{"qid": "1", "question": "a"}\n{"qid": "1", "question": "b"}\n', "duplicate query id"),
        ('{"qid": "1", "question": "  "}\n', "has no text"),
    ],
)
def test_retrieve_bad_queries(tmp_path, index_dir, content, message):
    queries = tmp_path / "q.jsonl"
    queries.write_text(content, encoding="utf-8")
    out, run = tmp_path / "cand.jsonl", tmp_path / "run.trec"
    result = invoke("retrieve", "--index", index_dir, "--queries", queries, "--out", out, "--run", run)
    assert result.exit_code == 2 and message in result.output
    assert not out.exists() and not run.exists()


def test_retrieve_bad_tsv_and_missing_index(tmp_path, index_dir):
    queries = tmp_path / "q.tsv"
    queries.write_text("only-one-column\n", encoding="utf-8")
    out = tmp_path / "cand.jsonl"
    result = invoke("retrieve", "--index", index_dir, "--queries", queries, "--out", out)
    assert result.exit_code == 2 and "qid<TAB>query" in result.output
    queries.write_text("1\tshakespeare\n", encoding="utf-8")
    result = invoke("retrieve", "--index", tmp_path / "nope", "--queries", queries, "--out", out)
    assert result.exit_code == 2 and "not a BM25 index" in result.output
    result = invoke("retrieve", "--index", index_dir, "--queries", tmp_path / "nope.tsv", "--out", out)
    assert result.exit_code == 2 and "not found" in result.output
    assert not out.exists()


def test_retrieve_k_must_be_positive(tmp_path, index_dir):
    queries = tmp_path / "q.tsv"
    queries.write_text("1\tshakespeare\n", encoding="utf-8")
    result = invoke("retrieve", "--index", index_dir, "--queries", queries, "--out", tmp_path / "o.jsonl", "--k", 0)
    assert result.exit_code != 0 and not (tmp_path / "o.jsonl").exists()


@pytest.mark.pyserini
def test_index_and_retrieve_with_pyserini(tmp_path, corpus):
    result = invoke("index", "--corpus", corpus, "--out", tmp_path / "idx", "--backend", "pyserini")
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "idx" / "meta.json").read_text())["backend"] == "pyserini"
    queries = tmp_path / "q.tsv"
    queries.write_text("q1\twho wrote hamlet\n", encoding="utf-8")
    out, run = tmp_path / "cand.jsonl", tmp_path / "run.trec"
    result = invoke("retrieve", "--index", tmp_path / "idx", "--queries", queries, "--out", out, "--k", 3, "--run", run)
    assert result.exit_code == 0, result.output
    [rec] = read_jsonl(out)
    assert rec["passages"][0]["pid"] == "hamlet" and rec["passages"][0]["text"] == DOCS[0]["text"]
    assert run.read_text().split()[5] == "bm25-pyserini"


def test_index_a_hub_datasets_passages(tmp_path, monkeypatch):
    """``--corpus`` names a hub dataset (here served from the hub-layout mirror): its split's passages,
    deduplicated (SQuAD's questions share paragraphs), are indexed; ``--split`` is refused for a file."""
    from hub_mirror import SQUAD_VALIDATION, build_dataset_mirror

    from rankrag_lite.formats.hub import HUB_MIRROR_ENV

    monkeypatch.setenv(HUB_MIRROR_ENV, str(build_dataset_mirror(tmp_path / "mirror")))
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf-cache"))
    result = invoke("index", "--corpus", "rajpurkar/squad", "--split", "validation", "--out", tmp_path / "idx")
    assert result.exit_code == 0, result.output
    index = load_index(tmp_path / "idx")
    assert len(index) == len(SQUAD_VALIDATION)
    hit = index.search(["Into which ocean does the Amazon flow?"], k=1)[0][0]
    assert hit.title == "Amazon River" and "Atlantic" in hit.text
    corpus = write_jsonl(tmp_path / "c.jsonl", DOCS)
    result = invoke("index", "--corpus", corpus, "--split", "validation", "--out", tmp_path / "idx2")
    assert result.exit_code == 2 and "--split is for a hub dataset" in result.output
    assert not (tmp_path / "idx2").exists()


def test_retrieve_warns_and_counts_queries_without_a_hit(tmp_path, index):
    q = tmp_path / "q.tsv"
    q.write_text("q1\twho wrote hamlet\nq2\t莎士比亚\n", encoding="utf-8")
    res = cli("retrieve", "--index", index, "--queries", q, "--out", tmp_path / "c.jsonl")
    assert res.exit_code == 0, res.output
    assert "warning: 1 of 2 queries found no passage" in res.output and "q2" in res.output
    assert "English" in res.output
