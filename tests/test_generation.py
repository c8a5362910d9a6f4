"""Answer generation on the real tiny model: the paper's prompt, batching, answer_file, bad input."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from inference_helpers import candidates_from_twowiki, short, twowiki
from rankrag_lite.cli import app
from rankrag_lite.errors import RankragError
from rankrag_lite.generation import Answerer, answer_file, answer_metrics
from rankrag_lite.generation.answerer import first_line

runner = CliRunner()


def _items(n=2, k=2):
    return [(r["question"], [{"title": p["title"], "text": short(p["text"])} for p in r["passages"] if p["is_gold"]][:k])
            for r in twowiki(n)]


def test_prompt_is_the_papers_inference_prompt(tiny_model):
    model, tok = tiny_model
    a = Answerer(model, tok)
    q, ps = _items(1)[0]
    text = tok.decode(a.qa_ids(q, ps))
    assert "Passage 1: " in text and "Passage 2: " in text
    assert f"{q.rstrip('.')}. Answer the above question with a short phrase.<|im_end|>" in text
    assert text.endswith("<|im_start|>assistant\n")


def test_greedy_answers_do_not_depend_on_batching(tiny_model):
    model, tok = tiny_model
    items = _items(2)
    one = Answerer(model, tok, max_new_tokens=4, batch_size=1).answer(items)
    two = Answerer(model, tok, max_new_tokens=4, batch_size=2).answer(items)
    assert [x["prediction"] for x in one] == [x["prediction"] for x in two]
    assert all(x["prediction"] and len(tok(x["raw"])["input_ids"]) <= 5 for x in one)


def test_claims_give_true_or_false(tiny_model):
    model, tok = tiny_model
    res = Answerer(model, tok).verify_claims([("Paris is in France.", ["Paris is the capital of France."])])
    assert res[0]["prediction"] in ("True", "False") and 0 < res[0]["p_true"] < 1
    assert (res[0]["prediction"] == "True") == (res[0]["p_true"] >= 0.5)


def test_answer_metrics_and_first_line():
    assert first_line("\n  The Cork \nmore") == "The Cork"
    m = answer_metrics("the Cork", ["Cork"])
    assert m == {"em": 1.0, "f1": 1.0, "acc": 1.0}
    m = answer_metrics("buried in Cork city", ["Cork"])
    assert m["em"] == 0.0 and m["acc"] == 1.0 and m["f1"] == pytest.approx(2 * (1 / 4) * 1 / (1 / 4 + 1))


def test_answer_file_writes_predictions_and_metrics(tiny_model, tmp_path, monkeypatch):
    import importlib

    AF = importlib.import_module("rankrag_lite.generation.answer_file")  # the module (the package re-exports the function)

    model, tok = tiny_model
    cand = candidates_from_twowiki(tmp_path / "cand.jsonl", n=2, passages=3)
    out = tmp_path / "answers.jsonl"
    reads, real = [], AF._records
    monkeypatch.setattr(AF, "_records", lambda *a, **kw: (reads.append(1), real(*a, **kw))[1])
    n = AF.check_answer_input(cand, k=2)  # what `answer` does before loading the model
    res = answer_file(Answerer(model, tok, max_new_tokens=4), cand, out, k=2, progress=False, records=n)
    assert n == 2 and len(reads) == 2  # the input is read twice: one validation pass, one answering pass
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert len(rows) == 2 and res["count"] == 2 and res["with_gold"] == 2
    assert set(rows[0]) >= {"qid", "question", "answers", "prediction", "raw", "top_pids", "em", "f1", "acc"}
    assert len(rows[0]["top_pids"]) == 2
    assert res["em"] == pytest.approx(sum(r["em"] for r in rows) / 2)
    assert "exact match" in res["metrics"]["em"]


def test_answer_k_larger_than_candidates(tmp_path):
    cand = candidates_from_twowiki(tmp_path / "cand.jsonl", n=1, passages=3)
    out = tmp_path / "answers.jsonl"
    r = runner.invoke(app, ["answer", "--model", "smollm2-135m", "--input", str(cand), "--out", str(out),
                            "--k", "5"])
    assert r.exit_code == 2 and "fewer than k=5" in r.stderr and not out.exists()
    r = runner.invoke(app, ["answer", "--model", "smollm2-135m", "--input", str(cand), "--out", str(out),
                            "--task", "poem"])
    assert r.exit_code == 2 and "unknown task" in r.stderr and not out.exists()


def test_answerer_rejects_bad_settings(tiny_model):
    model, tok = tiny_model
    with pytest.raises(RankragError):
        Answerer(model, tok, max_new_tokens=0)
