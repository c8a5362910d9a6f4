"""Evaluation: ranx metrics on hand-computable cases, eval-set readers, rankers, report files, CLI."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli_helpers import cli, one_line_error, write_jsonl
from inference_helpers import DL19, DL19_QRELS, TWOWIKI, short
from rankrag_lite.cli import app
from rankrag_lite.errors import RankragError
from rankrag_lite.evaluation import EvalItem, EvalSet, evaluate, load_eval_set, ranking_metrics
from rankrag_lite.evaluation.rankers import (BM25Ranker, GivenRanker, LongestRanker, MiniLMRanker, RandomRanker,
                                            Ranking, rank)
from small_corpus import DOCS

runner = CliRunner()
FIX = Path(__file__).parent / "fixtures"


def _toy(graded=False):
    items = [
        EvalItem("q1", "which animal purrs", ["cat"],
                 [{"pid": "a", "title": "", "text": "the dog barks"},
                  {"pid": "b", "title": "", "text": "a cat purrs"},
                  {"pid": "c", "title": "", "text": "cats and dogs"}],
                 {"a": 0, "b": 2 if graded else 1, "c": 1}),
        EvalItem("q2", "what barks", ["dog"],
                 [{"pid": "d", "title": "", "text": "trees grow"},
                  {"pid": "e", "title": "", "text": "the dog barks loudly"}],
                 {"d": 0, "e": 1}),
    ]
    return EvalSet("toy", "passages", items, has_order=False, first_stage="none", graded=graded)


def test_metrics_by_hand():
    es = _toy()
    r = Ranking("x", "", {"q1": ["a", "b", "c"], "q2": ["e", "d"]})
    res = ranking_metrics(es, r, [1, 2], curve_max=3)
    m, pq = res["mean"], res["per_query"]
    # q1: gold {b, c} at ranks 2 and 3; q2: gold {e} at rank 1
    assert pq["q1"]["Recall@1"] == 0 and pq["q1"]["Recall@2"] == 0.5 and pq["q1"]["MRR@10"] == 0.5
    assert pq["q2"]["Recall@1"] == 1 and pq["q2"]["MRR@10"] == 1
    assert m["Recall@2"] == pytest.approx(0.75) and m["MRR@10"] == pytest.approx(0.75)
    # answers: q1's "cat" only in b (DPR tokens: "cats" is not "cat"); q2's "dog" in e
    assert pq["q1"]["AnswerRecall@1"] == 0 and pq["q1"]["AnswerRecall@2"] == 1
    assert m["AnswerRecall@1"] == pytest.approx(0.5)
    assert res["curve"]["Recall"] == pytest.approx([0.5, 0.75, 1.0])
    assert "nDCG@10" not in m


def test_graded_ndcg_and_relevance_level_by_hand():
    es = _toy(graded=True)
    es.rel_level = 2
    r = Ranking("x", "", {"q1": ["c", "b", "a"], "q2": ["e", "d"]})
    pq = ranking_metrics(es, r, [1])["per_query"]
    dcg = 1 / math.log2(2) + 2 / math.log2(3)
    idcg = 2 / math.log2(2) + 1 / math.log2(3)
    assert pq["q1"]["nDCG@10"] == pytest.approx(dcg / idcg)
    assert pq["q1"]["MRR@10"] == pytest.approx(0.5)  # only b (grade 2) counts at level 2
    assert pq["q1"]["Recall@1"] == 0


def test_rankers_on_a_toy_set():
    es = _toy()
    assert rank(es, GivenRanker()).order["q1"] == ["a", "b", "c"]
    r1, r2 = rank(es, RandomRanker(seed=3)), rank(es, RandomRanker(seed=3))
    assert r1.order == r2.order and sorted(r1.order["q1"]) == ["a", "b", "c"]
    bm = rank(es, BM25Ranker())
    assert bm.order["q2"][0] == "e" and bm.order["q1"][0] == "b"


def test_longest_ranker_orders_by_words():
    es = _toy()
    for it in es.items:
        lengths = {p["pid"]: len(p["text"].split()) for p in it.passages}
        order = rank(es, LongestRanker()).order[it.qid]
        assert [lengths[p] for p in order] == sorted(lengths.values(), reverse=True)


def test_minilm_ranks_the_obvious_passage_first():
    es = _toy()
    r = rank(es, MiniLMRanker())
    assert r.order["q2"][0] == "e" and r.order["q1"][0] in ("b", "c")


def test_read_twowiki_and_dl19():
    es = load_eval_set(TWOWIKI)
    assert es.fmt == "passages" and not es.has_order and len(es.items) == 20
    assert len(es.items[0].passages) == 10 and sum(es.items[0].qrels.values()) == 2
    assert es.items[0].answers == ["Cork"]
    dl = load_eval_set(DL19, qrels=str(DL19_QRELS))
    assert dl.fmt == "trec-dl" and dl.graded and dl.rel_level == 2 and dl.has_order
    assert [len(it.passages) for it in dl.items] == [20, 20, 20]
    assert dl.first_stage == "BM25 (the given top-20 order)"
    top5 = load_eval_set(DL19, qrels=str(DL19_QRELS), depth=5)  # rerank only the first 5 of the order
    assert [it.passages for it in top5.items] == [it.passages[:5] for it in dl.items]
    assert top5.first_stage == "BM25 (the given top-5 order)"


def test_read_beir_and_qa_with_a_bm25_first_stage(tmp_path):
    beir = tmp_path / "beir"
    beir.mkdir()
    docs = [("d1", "Cats", "A cat purrs when content."), ("d2", "Dogs", "A dog barks at strangers."),
            ("d3", "Trees", "Oak trees grow slowly.")]
    (beir / "corpus.jsonl").write_text("\n".join(json.dumps({"_id": i, "title": t, "text": x}) for i, t, x in docs))
    (beir / "queries_test.jsonl").write_text(json.dumps({"_id": "1", "text": "why does a cat purr"}) + "\n")
    (beir / "test.tsv").write_text("query-id\tcorpus-id\tscore\n1\td1\t1\n")
    es = load_eval_set(beir, depth=2)
    assert es.fmt == "beir" and es.items[0].passages[0]["pid"] == "d1" and es.items[0].qrels == {"d1": 1}
    qa = tmp_path / "nq.jsonl"
    qa.write_text(json.dumps({"question": "what barks at strangers", "answer": ["dog"]}) + "\n")
    es = load_eval_set(qa, fmt="qa", corpus=str(beir / "corpus.jsonl"), depth=3)
    assert es.items[0].passages[0]["pid"] == "d2" and es.answer_qrels()["0"]["d2"] == 1


def test_evaluate_writes_the_report(tmp_path):
    es = load_eval_set(TWOWIKI, limit=8)
    out = tmp_path / "report"
    s = evaluate(es, out, progress=False)
    assert sorted(p.name for p in out.iterdir()) == ["metrics.json", "per_question.jsonl", "recall_at_k.png",
                                                      "report.md", "runs"]
    assert s["runs"] == {n: f"runs/{n}.trec" for n in ("bm25", "minilm", "random")}
    m = json.loads((out / "metrics.json").read_text())
    assert list(m["rankers"]) == ["bm25", "minilm", "random"] == list(s["rankers"])
    for r in m["rankers"].values():
        assert {"Recall@2", "Recall@5", "MRR@10", "AnswerRecall@5"} <= set(r["metrics"])
        assert len(r["curve"]["Recall"]) == 20 and r["curve"]["Recall"][9] == pytest.approx(1.0)
    rows = [json.loads(x) for x in (out / "per_question.jsonl").read_text().splitlines()]
    assert len(rows) == 8 and set(rows[0]["rankers"]) == {"bm25", "minilm", "random"}
    assert len(rows[0]["gold"]) == 2 and "Recall@2" in rows[0]["rankers"]["bm25"]
    # the mean of the per-question values is the reported mean
    assert m["rankers"]["bm25"]["metrics"]["Recall@2"] == pytest.approx(
        sum(r["rankers"]["bm25"]["Recall@2"] for r in rows) / 8)
    md = (out / "report.md").read_text()
    assert "| bm25 |" in md and "| minilm |" in md and "Recall@2" in md
    assert (out / "recall_at_k.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_significance_against_a_reference_row(tmp_path):
    """--significance: every other row against the reference, question by question (ranx's paired
    randomization test); the differences and wins / losses agree with the per-question file."""
    out = tmp_path / "sig"
    r = runner.invoke(app, ["evaluate", "--data", str(TWOWIKI), "--rankers", "bm25,random,longest", "--no-answer",
                            "--k", "2,5", "--significance", "bm25", "--out", str(out)])
    assert r.exit_code == 0, r.stderr
    m = json.loads((out / "metrics.json").read_text())
    sig = m["significance"]
    assert sig["reference"] == "bm25" and sig["questions"] == 20 and sig["test"] == "fisher"
    assert set(sig["rankers"]) == {"random", "longest"}
    assert set(sig["rankers"]["random"]) == {"Recall@2", "Recall@5", "MRR@10"}
    rows = [json.loads(x) for x in (out / "per_question.jsonl").read_text().splitlines()]
    for name in ("random", "longest"):
        for col, c in sig["rankers"][name].items():
            diffs = [q["rankers"][name][col] - q["rankers"]["bm25"][col] for q in rows]
            assert c["delta"] == pytest.approx(sum(diffs) / len(diffs))
            assert c["mean"] == pytest.approx(m["rankers"][name]["metrics"][col])
            assert (c["wins"], c["ties"], c["losses"]) == (sum(d > 0 for d in diffs), sum(d == 0 for d in diffs),
                                                           sum(d < 0 for d in diffs))
            assert 0.0 <= c["p"] <= 1.0
    # random is far below BM25 on these 20 questions: a small p; a row against itself would be p = 1
    assert sig["rankers"]["random"]["MRR@10"]["p"] < 0.01 < sig["rankers"]["longest"]["MRR@10"]["p"]
    md = (out / "report.md").read_text()
    assert "## Against bm25, question by question" in md and "| random | " in md
    # the seeded test gives the same p-values again (ranx's parallel permutations did not)
    again = tmp_path / "sig-again"
    r = runner.invoke(app, ["evaluate", "--data", str(TWOWIKI), "--rankers", "bm25,random,longest", "--no-answer",
                            "--k", "2,5", "--significance", "bm25", "--out", str(again)])
    assert r.exit_code == 0, r.stderr
    assert json.loads((again / "metrics.json").read_text())["significance"] == sig


def test_evaluate_cli_with_a_run_file(tmp_path):
    run = tmp_path / "rev.trec"
    lines = []
    for rec in json.loads(DL19.read_text()):
        hits = rec["hits"][::-1]  # BM25 reversed
        lines += [f"{h['qid']} Q0 {h['docid']} {i} {100 - i} rev" for i, h in enumerate(hits, start=1)]
    run.write_text("\n".join(lines) + "\n")
    out = tmp_path / "dl"
    r = runner.invoke(app, ["evaluate", "--data", str(DL19), "--qrels", str(DL19_QRELS), "--rankers", "given",
                            "--run", f"reversed={run}", "--k", "1,5,10", "--out", str(out)])
    assert r.exit_code == 0, r.stderr
    m = json.loads((out / "metrics.json").read_text())["rankers"]
    assert set(m) == {"given", "reversed"}
    assert m["given"]["metrics"]["nDCG@10"] > m["reversed"]["metrics"]["nDCG@10"]
    assert m["given"]["metrics"]["Recall@20" if "Recall@20" in m["given"]["metrics"] else "Recall@10"] >= 0


def test_every_row_is_written_as_a_run_that_reads_back_to_the_same_metrics(tmp_path):
    """`evaluate --out` writes each row's whole ranking (TREC, its own scores, the file's stem as tag);
    handed back through --run, every row scores what it scored, question by question."""
    out = tmp_path / "first"
    r = runner.invoke(app, ["evaluate", "--data", str(TWOWIKI), "--rankers", "bm25,random,longest", "--no-answer",
                            "--k", "1,2,5", "--out", str(out)])
    assert r.exit_code == 0, r.stderr
    m = json.loads((out / "metrics.json").read_text())
    assert m["runs"] == {"bm25": "runs/bm25.trec", "random": "runs/random.trec", "longest": "runs/longest.trec"}
    lines = (out / "runs" / "bm25.trec").read_text().splitlines()
    per_q = [json.loads(x) for x in (out / "per_question.jsonl").read_text().splitlines()]
    assert len(lines) == sum(q["n_candidates"] for q in per_q)       # every candidate, not a top-10
    qid, q0, pid, rank, score, tag = lines[0].split()
    assert (qid, q0, rank, tag) == (per_q[0]["qid"], "Q0", "1", "bm25") and pid == per_q[0]["rankers"]["bm25"]["top"][0]
    back = tmp_path / "back"
    r = runner.invoke(app, ["evaluate", "--data", str(TWOWIKI), "--rankers", "bm25", "--no-answer", "--k", "1,2,5",
                            *[a for n in ("random", "longest") for a in ("--run", f"{n}-again={out / m['runs'][n]}")],
                            "--out", str(back)])
    assert r.exit_code == 0, r.stderr
    again = json.loads((back / "metrics.json").read_text())["rankers"]
    for n in ("random", "longest"):
        assert again[f"{n}-again"]["metrics"] == m["rankers"][n]["metrics"]
    assert again["bm25"]["metrics"] == m["rankers"]["bm25"]["metrics"]
    assert "runs/" in (out / "report.md").read_text()


def test_run_file_names_are_safe_and_distinct():
    from rankrag_lite.evaluation.report import run_files

    assert run_files(["m+bm25:0.5", "m+bm25/0.5", "a b", ".."]) == {
        "m+bm25:0.5": "runs/m+bm25_0.5.trec", "m+bm25/0.5": "runs/m+bm25_0.5-2.trec", "a b": "runs/a_b.trec",
        "..": "runs/ranker.trec"}


def test_evaluate_cli_bad_input(tmp_path):
    out = tmp_path / "o"
    cases = [
        (["--data", str(TWOWIKI), "--rankers", "bm25,magic"], "unknown ranker"),
        (["--data", str(TWOWIKI), "--run", f"x={tmp_path / 'missing.trec'}"], "run file not found"),
        (["--data", str(tmp_path / "nothing.jsonl")], "not found"),
        (["--data", str(DL19), "--qrels", str(DL19_QRELS), "--answer"], "no answers"),
        (["--data", str(TWOWIKI), "--answer", "--answer-k", "11", "--model", "smollm2-135m"], "larger than"),
        (["--data", str(TWOWIKI), "--k", "two"], "--k takes integers"),
        (["--data", str(TWOWIKI), "--rankers", "bm25,random", "--significance", "minilm"], "is not one of the rows"),
        # an answer option asks for answers: never silently none
        (["--data", str(TWOWIKI), "--rankers", "bm25", "--answer-from", "bm25"], "answering needs a model"),
        (["--data", str(DL19), "--qrels", str(DL19_QRELS), "--answer-model", "smollm2-135m"], "no answers"),
        (["--data", str(TWOWIKI), "--no-answer", "--answer-from", "bm25", "--answer-model", "smollm2-135m"],
         "--answer-model and --answer-from ask for answers, --no-answer for none"),
    ]
    for args, message in cases:
        r = runner.invoke(app, ["evaluate", "--out", str(out), "--limit", "2", *args])
        assert r.exit_code == 2, (args, r.stdout)
        assert message in r.stderr and len(r.stderr.strip().splitlines()) == 1
        assert not out.exists()


@pytest.mark.slow
def test_evaluate_with_the_tiny_model_and_answers(tmp_path, tiny_model, tiny_model_path):
    es = load_eval_set(TWOWIKI, limit=2)
    for it in es.items:
        for p in it.passages:
            p["text"] = short(p["text"], 120)
    out = tmp_path / "ev"
    s = evaluate(es, out, baselines=["bm25"], models=[tiny_model_path], loaded={tiny_model_path: tiny_model},
                 answer_k=2, max_new_tokens=4, progress=False)
    name = list(s["rankers"])[1]
    assert s["rankers"][name]["metrics"]["Recall@10"] == pytest.approx(1.0)
    a = s["answers"]
    assert a["by_ranker"][name].keys() == {"EM", "F1", "Acc"} and a["k"] == 2
    rows = [json.loads(x) for x in (out / "per_question.jsonl").read_text().splitlines()]
    assert "prediction" in rows[0]["answers_by"][name]
    assert "EM" in (out / "report.md").read_text()


@pytest.mark.slow
def test_answer_model_alone_answers_from_a_run(tmp_path, tiny_model, tiny_model_path):
    """No --model, a run read from a file and --answer-model: answers are generated (they were silently
    skipped before: the default asked only whether a --model was given)."""
    es = load_eval_set(TWOWIKI, limit=2)
    for it in es.items:
        for p in it.passages:
            p["text"] = short(p["text"], 120)
    run = tmp_path / "rev.trec"
    run.write_text("".join(f"{it.qid} Q0 {p['pid']} {i} {-i} rev\n"
                           for it in es.items for i, p in enumerate(reversed(it.passages), 1)))
    s = evaluate(es, tmp_path / "ev", baselines=["bm25"], runs={"rev": str(run)}, answer_model=tiny_model_path,
                 answer_from=["rev"], loaded={tiny_model_path: tiny_model}, answer_k=2, max_new_tokens=4,
                 progress=False)
    assert list(s["answers"]["by_ranker"]) == ["rev"] and s["answers"]["k"] == 2
    # the progress bar's count: one call per answerer batch, the questions in all
    from rankrag_lite.generation.answerer import Answerer

    answerer, calls = Answerer(*tiny_model, max_new_tokens=4, batch_size=1), []
    items = [(it.question, it.passages[:2]) for it in es.items]
    assert [p["prediction"] for p in answerer.answer(items, on_batch=calls.append)] == \
        [s2["prediction"] for s2 in answerer.answer(items)]
    assert calls == [1, 1]


def test_every_baseline_speaks_the_one_ranker_protocol():
    """Each registered baseline: a name (its --rankers name), a description, one float per passage from
    score_passages, and score_many agreeing with it question by question."""
    from rankrag_lite.evaluation.rankers import BASELINES, RANKERS, Ranker, baseline

    es = _toy()
    assert BASELINES == tuple(RANKERS) == ("given", "bm25", "minilm", "random", "longest")
    for name in BASELINES:
        r = baseline(name, es, seed=3)
        assert isinstance(r, Ranker) and r.name == name and r.description
        many = r.score_many(es.items)
        for it, scores in zip(es.items, many):
            assert len(scores) == len(it.passages) and all(isinstance(s, float) for s in scores)
            one = r.score_passages(it.question, it.passages, key=it.qid) if name == "random" else \
                r.score_passages(it.question, it.passages)
            assert one == pytest.approx(scores), name
    with pytest.raises(RankragError, match="unknown ranker 'magic'"):
        baseline("magic", es)


def test_random_and_given_scores_keep_their_orders():
    """random's scores give the shuffle of random.Random(f"{seed}:{qid}") (as before it had scores);
    given's keep the data's order."""
    import random

    es = load_eval_set(TWOWIKI, limit=5)
    ranking = rank(es, RandomRanker(seed=7))
    for it in es.items:
        pids = [p["pid"] for p in it.passages]
        random.Random(f"7:{it.qid}").shuffle(pids)
        assert ranking.order[it.qid] == pids
        assert rank(es, GivenRanker()).order[it.qid] == [p["pid"] for p in it.passages]
    assert ranking.description == "random shuffle per question (seed 7)"


def test_fusion_ranker_and_remembered_scores():
    """A fusion row is Fusion.fuse of its two rankers' scores; Remembered scores each question once,
    however many rows read it."""
    from rankrag_lite.evaluation.rankers import FusionRanker, Remembered
    from rankrag_lite.ranking.fusion import Fusion

    class Counting(LongestRanker):
        calls = 0

        def score_passages(self, query, passages):
            Counting.calls += 1
            return super().score_passages(query, passages)

    es = _toy()
    first, model = Remembered(BM25Ranker()), Remembered(Counting())
    fused = FusionRanker(first, model, Fusion(0.3))
    assert fused.name == "longest+bm25:0.3" and "W=0.3" in fused.description
    model.score_many(es.items)
    assert Counting.calls == 2
    got = fused.score_many(es.items)
    assert Counting.calls == 2  # the model's scores were remembered
    for it, scores in zip(es.items, got):
        want = Fusion(0.3).fuse(BM25Ranker().score_passages(it.question, it.passages),
                                LongestRanker().score_passages(it.question, it.passages))
        assert scores == pytest.approx(want)
        assert fused.score_passages(it.question, it.passages) == pytest.approx(want)


@pytest.mark.slow
def test_model_ranker_scores_every_question_in_one_scorer_call(tiny_model):
    """The model row hands all questions' pairs to the scorer at once (batched across questions), and
    gets what scoring each question alone gives."""
    from rankrag_lite.evaluation.rankers import ModelRanker
    from rankrag_lite.ranking.scorer import PTrueScorer

    class CountingScorer(PTrueScorer):
        calls = 0

        def score(self, pairs, on_batch=None):
            CountingScorer.calls += 1
            return super().score(pairs, on_batch=on_batch)

    es = load_eval_set(TWOWIKI, limit=2)
    for it in es.items:
        it.passages = [dict(p, text=short(p["text"], 80)) for p in it.passages[:3]]
    r = ModelRanker(CountingScorer(*tiny_model, batch_size=8, calibration=None), "tiny", progress=False)
    assert r.description == "P(True) of tiny (true-false)"
    many = r.score_many(es.items)
    assert CountingScorer.calls == 1
    for it, scores in zip(es.items, many):
        assert r.score_passages(it.question, it.passages) == pytest.approx(scores, abs=1e-4)


# --- bad or mismatched input ------------------------------------------------------------------


def test_evaluate_with_qrels_of_another_set_is_refused(tmp_path):
    res = cli("evaluate", "--data", FIX / "inference" / "dl19_bm25_top20.json", "--qrels",
              FIX / "retrieval_scifact" / "qrels.tsv", "--out", tmp_path / "ev", "--rankers", "given,random",
              "--limit", "5")
    one_line_error(res, "judges none of the 3 questions")
    assert not (tmp_path / "ev").exists()

def test_evaluate_names_a_missing_qrels_file(tmp_path):
    res = cli("evaluate", "--data", FIX / "inference" / "dl19_bm25_top20.json", "--qrels", tmp_path / "no.txt",
              "--out", tmp_path / "ev", "--rankers", "given")
    one_line_error(res, f"qrels file not found: {tmp_path / 'no.txt'}")

def test_evaluate_empty_file(tmp_path):
    (tmp_path / "e.jsonl").write_text("")
    one_line_error(cli("evaluate", "--data", tmp_path / "e.jsonl", "--out", tmp_path / "ev"),
                   "e.jsonl: no records (the file is empty)")

def test_evaluate_wrong_format_points_to_the_right_one(tmp_path):
    data = FIX / "inference" / "twowiki_dev20.jsonl"
    line = one_line_error(cli("evaluate", "--data", data, "--format", "hotpotqa", "--out", tmp_path / "ev",
                              "--rankers", "given"))
    assert "--format passages" in line
    one_line_error(cli("evaluate", "--data", data, "--format", "candidates", "--out", tmp_path / "ev",
                       "--rankers", "given"), "not a candidates file", "--format passages")
    assert not (tmp_path / "ev").exists()

def test_evaluate_reports_questions_without_gold_among_candidates(tmp_path):
    rows = [{"qid": "a", "question": "who wrote hamlet", "passages": [
                {"pid": "d1", "text": DOCS[0]["text"], "is_gold": True}, {"pid": "d2", "text": DOCS[1]["text"]}]},
            {"qid": "b", "question": "capital of france", "passages": [
                {"pid": "d2", "text": DOCS[1]["text"]}, {"pid": "d1", "text": DOCS[0]["text"]}]}]
    data = write_jsonl(tmp_path / "c.jsonl", rows)
    qrels = tmp_path / "qrels.tsv"
    qrels.write_text("a\t0\td1\t1\nb\t0\td3\t1\n")  # b's gold passage d3 is not among its candidates
    res = cli("evaluate", "--data", data, "--qrels", qrels, "--out", tmp_path / "ev", "--rankers", "given",
              "--k", "1")
    assert res.exit_code == 0, res.output
    m = json.loads((tmp_path / "ev" / "metrics.json").read_text())
    assert m["dataset"]["no_gold_in_candidates"] == 1
    assert m["rankers"]["given"]["metrics"]["Recall@1"] == pytest.approx(0.5)
    assert m["rankers"]["given"]["metrics_answerable"]["Recall@1"] == pytest.approx(1.0)
    report = (tmp_path / "ev" / "report.md").read_text()
    assert "1 of the 2 judged questions have no gold passage among their candidates" in report

def test_evaluate_checks_every_model_name_before_scoring(tmp_path):
    # a typo in the last --model used to surface only after the models before it had scored the set
    data = Path(__file__).parent / "fixtures" / "inference" / "twowiki_dev20.jsonl"
    res = cli("evaluate", "--data", data, "--limit", "2", "--model", "smollm2-135m",
              "--model", tmp_path / "no-such-run", "--no-answer", "--out", tmp_path / "ev")
    assert res.exit_code == 2, res.output
    assert "no-such-run" in res.output and "loading model" not in res.output
    assert not (tmp_path / "ev").exists()
