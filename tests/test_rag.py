"""`rag`: retrieve -> rerank -> answer on a small corpus, one model; bad input leaves nothing."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from cli_helpers import write_jsonl
from inference_helpers import short, twowiki
from rankrag_lite.cli import app
from rankrag_lite.io import read_jsonl

runner = CliRunner()


@pytest.fixture
def small_index(tmp_path):
    from rankrag_lite.retrieval import build_index

    docs, seen = [], set()
    for rec in twowiki(6):
        for p in rec["passages"]:
            if p["title"] not in seen:
                seen.add(p["title"])
                docs.append({"id": f"d{len(docs)}", "title": p["title"], "text": short(p["text"])})
    index = build_index(docs)
    index.save(tmp_path / "index")
    qs = tmp_path / "questions.jsonl"
    qs.write_text("\n".join(json.dumps({"question": r["question"], "answer": r["answers"]}) for r in twowiki(2)))
    return tmp_path / "index", qs


def test_rag_end_to_end(tmp_path, small_index, tiny_model, tiny_model_path):
    from rankrag_lite.pipeline import rag

    index, qs = small_index
    out = tmp_path / "rag"
    s = rag(index, tiny_model_path, qs, out, n=4, k=2, max_new_tokens=4, loaded=tiny_model, progress=False)
    assert sorted(p.name for p in out.iterdir()) == ["answers.jsonl", "bm25.trec", "candidates.jsonl",
                                                      "reranked.jsonl", "reranked.trec", "summary.json"]
    assert s["questions"] == 2 and s["reranked_passages"] == 8 and s["answers"]["count"] == 2
    cands = [json.loads(x) for x in (out / "candidates.jsonl").read_text().splitlines()]
    reranked = [json.loads(x) for x in (out / "reranked.jsonl").read_text().splitlines()]
    answers = [json.loads(x) for x in (out / "answers.jsonl").read_text().splitlines()]
    assert {p["pid"] for p in cands[0]["passages"]} == {p["pid"] for p in reranked[0]["passages"]}
    assert answers[0]["top_pids"] == [p["pid"] for p in reranked[0]["passages"][:2]]
    assert "em" in answers[0] and "em" in s["answers"]
    assert json.loads((out / "summary.json").read_text())["k"] == 2


def test_rag_bad_input_writes_nothing(tmp_path, small_index, monkeypatch):
    index, qs = small_index
    out = tmp_path / "rag"
    r = runner.invoke(app, ["rag", "--index", str(index), "--model", "smollm2-135m", "--questions", str(qs),
                            "--out", str(out), "--n", "3", "--k", "5"])
    assert r.exit_code == 2 and "larger than" in r.stderr and not out.exists()
    r = runner.invoke(app, ["rag", "--index", str(tmp_path / "noindex"), "--model", "smollm2-135m",
                            "--questions", str(qs), "--out", str(out)])
    assert r.exit_code == 2 and "index" in r.stderr and not out.exists()
    from rankrag_lite.modeling import quant

    monkeypatch.setattr(quant, "_probe", lambda device: "bitsandbytes is not installed")
    r = runner.invoke(app, ["rag", "--index", str(index), "--model", "smollm2-135m", "--questions", str(qs),
                            "--out", str(out), "--load-in-4bit"])
    assert r.exit_code == 2 and "--load-in-4bit cannot run here" in r.stderr and not out.exists()


def test_questions_from_a_hub_dataset_split(tmp_path, monkeypatch):
    """``rag --questions NAME --split S``: a hub dataset's questions (here from the hub-layout mirror)."""
    from hub_mirror import SQUAD_VALIDATION, build_dataset_mirror

    from rankrag_lite.formats.hub import HUB_MIRROR_ENV
    from rankrag_lite.errors import RankragError
    from rankrag_lite.pipeline import read_questions

    monkeypatch.setenv(HUB_MIRROR_ENV, str(build_dataset_mirror(tmp_path / "mirror")))
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf-cache"))
    qs = read_questions("rajpurkar/squad", split="validation", limit=2)
    assert [(q["question"], q["answers"]) for q in qs] == [(q, [a]) for _, _, q, a in SQUAD_VALIDATION[:2]]
    assert len(read_questions("rajpurkar/squad")) == 8  # the train split by default
    local = tmp_path / "q.jsonl"
    local.write_text('{"question": "who?", "answer": ["x"]}\n')
    with pytest.raises(RankragError, match="--split is for a hub dataset"):
        read_questions(local, split="validation")


@pytest.mark.slow
def test_rag_counts_questions_without_a_hit_as_wrong(tmp_path, index, tiny_model):
    from rankrag_lite.pipeline import rag

    qs = write_jsonl(tmp_path / "qs.jsonl", [
        {"question": "who wrote hamlet", "answers": ["William Shakespeare"]},
        {"question": "what is the capital of france", "answers": ["Paris"]},
        {"question": "量子色动力学", "answers": ["QCD"]}])
    summary = rag(index, "tiny", qs, tmp_path / "rag", n=2, k=1, max_new_tokens=6, loaded=tiny_model,
                  progress=False)
    a = summary["answers"]
    assert a["questions"] == 3 and a["no_hits"] == 1 and a["with_gold"] == 3
    rows = read_jsonl(tmp_path / "rag" / "answers.jsonl")
    assert len(rows) == 2
    assert a["em"] == pytest.approx(sum(r["em"] for r in rows) / 3)
    assert a["answered_f1"] == pytest.approx(sum(r["f1"] for r in rows) / 2)
    assert json.loads((tmp_path / "rag" / "summary.json").read_text())["answers"]["questions"] == 3
