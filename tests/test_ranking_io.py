"""Candidate readers, streaming rerank_file, and `rankrag-lite rerank` bad input (CliRunner)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from inference_helpers import DL19, DL19_QRELS, StubScorer, candidates_from_twowiki, char_level_model
from rankrag_lite.cli import app
from rankrag_lite.errors import RankragError
from rankrag_lite.ranking.candidates import iter_candidates, read_qrels, read_trec_run
from rankrag_lite.ranking.rerank import rerank_file, rerank_records

runner = CliRunner()


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_rankllm_json_and_qrels():
    recs = list(iter_candidates(DL19))
    assert [r["qid"] for r in recs] == ["264014", "104861", "130510"]
    assert len(recs[0]["passages"]) == 20 and recs[0]["passages"][0]["pid"] == "5611210"
    assert recs[0]["passages"][0]["text"].startswith("5. Cancel.")
    qrels = read_qrels(DL19_QRELS)
    assert set(qrels) == {"264014", "104861", "130510"}
    assert sum(len(v) for v in qrels.values()) == 56


def test_rerank_reads_its_input_once_before_the_real_pass(tmp_path, monkeypatch):
    """`rerank` validates in one pass before loading the model and hands the counts on: the file is read
    twice in all (before: a count in the CLI, a count in rerank_file, a pass for --fuse, the real pass)."""
    import rankrag_lite.ranking.rerank as R

    cand = candidates_from_twowiki(tmp_path / "cand.jsonl", n=3)
    reads, real = [], R.iter_candidates
    monkeypatch.setattr(R, "iter_candidates", lambda *a, **kw: (reads.append(1), real(*a, **kw))[1])
    counts = R.check_candidates(cand)
    res = rerank_file(StubScorer(), cand, tmp_path / "a.jsonl", progress=False, counts=counts)
    assert counts == (3, 30) and (res["records"], res["passages"]) == counts and len(reads) == 2
    reads.clear()
    rerank_file(StubScorer(), cand, tmp_path / "b.jsonl", progress=False)  # the library alone validates first
    assert len(reads) == 2


def test_trec_run_with_corpus_and_queries(tmp_path):
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("\n".join(json.dumps({"_id": i, "title": f"t{i}", "text": f"text {i}"}) for i in "abcd"))
    queries = tmp_path / "q.tsv"
    queries.write_text("1\tfirst query\n2\tsecond query\n")
    run = tmp_path / "run.trec"
    run.write_text("1 Q0 b 2 1.0 x\n1 Q0 a 1 2.0 x\n2 Q0 c 1 5.0 x\n")
    recs = list(iter_candidates(run, corpus=corpus, queries=queries))
    assert [(r["qid"], [p["pid"] for p in r["passages"]]) for r in recs] == [("1", ["a", "b"]), ("2", ["c"])]
    assert recs[1]["question"] == "second query" and recs[1]["passages"][0]["title"] == "tc"
    run.write_text("1 Q0 a 1 2.0 x\n1 Q0 zz 2 1.0 x\n")
    with pytest.raises(RankragError, match="not in the corpus"):
        list(iter_candidates(run, corpus=corpus, queries=queries))
    run.write_text("1 Q0 a 1 2.0 x\n2 Q0 c 1 5.0 x\n1 Q0 b 2 1.0 x\n")
    with pytest.raises(RankragError, match="two separate blocks"):
        list(read_trec_run(run))


def test_rerank_file_sorts_streams_and_writes_a_run(tmp_path):
    cand = candidates_from_twowiki(tmp_path / "cand.jsonl", n=3)
    out_a, out_b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    res = rerank_file(StubScorer(), cand, out_a, progress=False)
    small = StubScorer()
    rerank_file(small, cand, out_b, chunk_passages=3, progress=False)  # one record per chunk
    assert small.calls == 3
    assert res == {"records": 3, "passages": 30, "out": str(out_a), "run": str(tmp_path / "a.trec")}
    a = [json.loads(x) for x in out_a.read_text().splitlines()]
    b = [json.loads(x) for x in out_b.read_text().splitlines()]
    assert a == b
    for rec in a:
        scores = [p["rerank_score"] for p in rec["passages"]]
        assert scores == sorted(scores, reverse=True)
        assert sorted(p["first_stage_rank"] for p in rec["passages"]) == list(range(1, 11))
        assert rec["answers"]  # other fields are kept
    run = (tmp_path / "a.trec").read_text().splitlines()
    assert len(run) == 30
    first = run[0].split()
    assert first[0] == a[0]["qid"] and first[2] == a[0]["passages"][0]["pid"] and first[3] == "1"


def test_rerank_file_failure_leaves_nothing(tmp_path):
    cand = candidates_from_twowiki(tmp_path / "cand.jsonl", n=3)
    with pytest.raises(RuntimeError):
        rerank_file(StubScorer(fail_after=1), cand, tmp_path / "out.jsonl", chunk_passages=3, progress=False)
    assert _leftovers(tmp_path) == ["cand.jsonl"]


def _bad(tmp_path, records) -> Path:
    p = tmp_path / "bad.jsonl"
    p.write_text("\n".join(json.dumps(r) for r in records) + "\n")
    return p


@pytest.mark.parametrize("records, message", [
    ([{"qid": "1", "passages": [{"text": "x"}]}], "has no 'question'"),
    ([{"qid": "1", "question": "q"}], "has no 'passages'"),
    ([{"qid": "1", "question": "q", "passages": []}], "empty candidate list"),
    ([{"qid": "1", "question": "q", "passages": [{"pid": "a", "title": "t"}]}], "has no 'text'"),
    ([{"qid": "1", "question": "q", "passages": [{"text": "a"}, {"text": "b"}]}], "fewer than --top-k 5"),
])
def test_rerank_bad_input(tmp_path, records, message):
    bad = _bad(tmp_path, records)
    out = tmp_path / "out.jsonl"
    r = runner.invoke(app, ["rerank", "--model", "smollm2-135m", "--input", str(bad), "--out", str(out),
                            "--top-k", "5"])
    assert r.exit_code == 2
    assert message in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not out.exists() and not out.with_suffix(".trec").exists()


def test_rerank_run_naming_missing_passages(tmp_path):
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text(json.dumps({"id": "a", "title": "", "text": "alpha"}) + "\n")
    queries = tmp_path / "q.tsv"
    queries.write_text("1\tquery\n")
    run = tmp_path / "in.trec"
    run.write_text("1 Q0 a 1 2.0 x\n1 Q0 missing 2 1.0 x\n")
    r = runner.invoke(app, ["rerank", "--model", "smollm2-135m", "--input", str(run), "--corpus", str(corpus),
                            "--queries", str(queries), "--out", str(tmp_path / "o.jsonl")])
    assert r.exit_code == 2 and "not in the corpus" in r.stderr
    assert not (tmp_path / "o.jsonl").exists()


def test_rerank_model_without_true_false_tokens(tmp_path):
    folder = char_level_model(tmp_path / "charlm")
    cand = candidates_from_twowiki(tmp_path / "cand.jsonl", n=1, passages=2)
    out = tmp_path / "out.jsonl"
    r = runner.invoke(app, ["rerank", "--model", str(folder), "--input", str(cand), "--out", str(out)])
    assert r.exit_code == 2 and "single-token 'True' and 'False'" in r.stderr
    assert not out.exists()


def test_rerank_4bit_where_it_cannot_run_and_unknown_score(tmp_path, monkeypatch):
    from rankrag_lite.modeling import quant

    cand = candidates_from_twowiki(tmp_path / "cand.jsonl", n=1, passages=2)
    out = tmp_path / "out.jsonl"
    monkeypatch.setattr(quant, "_probe", lambda device: "bitsandbytes is not installed")
    r = runner.invoke(app, ["rerank", "--model", "smollm2-135m", "--input", str(cand), "--out", str(out),
                            "--load-in-4bit"])
    assert r.exit_code == 2 and "--load-in-4bit cannot run here" in r.stderr
    r = runner.invoke(app, ["rerank", "--model", "smollm2-135m", "--input", str(cand), "--out", str(out),
                            "--score", "logits"])
    assert r.exit_code == 2 and "unknown score" in r.stderr
    r = runner.invoke(app, ["rerank", "--model", "smollm2-135m", "--input", str(tmp_path / "nope.jsonl"),
                            "--out", str(out)])
    assert r.exit_code == 2 and "not found" in r.stderr
    assert not out.exists()


def test_help_everywhere():
    for cmd in ("rerank", "answer", "rag", "evaluate"):
        r = runner.invoke(app, [cmd, "--help"])
        assert r.exit_code == 0 and "Usage" in r.stdout


@pytest.mark.slow
def test_rerank_cli_real_model_on_dl19(tmp_path, tiny_model_path):
    out = tmp_path / "dl19.jsonl"
    r = runner.invoke(app, ["rerank", "--model", tiny_model_path, "--input", str(DL19), "--out", str(out),
                            "--top-k", "4", "--batch-size", "4"])
    assert r.exit_code == 0, r.stderr
    recs = [json.loads(x) for x in out.read_text().splitlines()]
    assert [len(x["passages"]) for x in recs] == [4, 4, 4]
    assert all(0 < p["rerank_score"] < 1 for x in recs for p in x["passages"])
    assert {p["first_stage_rank"] for p in recs[0]["passages"]} == {1, 2, 3, 4}
    assert len(out.with_suffix(".trec").read_text().splitlines()) == 12


def test_fusion_error_from_a_later_chunk_names_the_file(tiny_model):
    """rerank_records' ``where`` (a file name) must still name the file once a chunk has been scored
    (it was rebound to the chunk's list of (record, passage) slots)."""
    from rankrag_lite.ranking import PTrueScorer
    from rankrag_lite.ranking.fusion import Fusion

    recs = [{"qid": "q1", "question": "who wrote hamlet?", "passages": [
                {"pid": "a", "title": "", "text": "Hamlet is a play by Shakespeare.", "score": 3.0}]},
            {"qid": "q2", "question": "who wrote faust?", "passages": [
                {"pid": "b", "title": "", "text": "Faust is a play by Goethe."}]}]  # no first-stage score
    scorer = PTrueScorer(*tiny_model, calibration=None)
    it = rerank_records(scorer, recs, chunk_passages=1, fusion=Fusion(0.5), where="in.jsonl")
    assert next(it)["passages"][0]["rerank_score"] > 0  # the first chunk is scored
    with pytest.raises(RankragError) as e:
        next(it)
    assert str(e.value).startswith("in.jsonl query q2: passage 1 has no first-stage 'score'"), str(e.value)
