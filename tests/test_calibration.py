"""Calibration of P(True) (rankrag_lite.ranking.calibration, and the calibrate workflow in
rankrag_lite.evaluation.calibration): Platt fit, ECE / Brier, the calibration file and its model check, the
``--min-score`` / ``--abstain`` options (one-line errors before any model loads; real tiny model after)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from inference_helpers import candidates_from_twowiki
from rankrag_lite.cli import app
from rankrag_lite.errors import RankragError
from rankrag_lite.evaluation import calibration as E
from rankrag_lite.ranking import calibration as C

runner = CliRunner()


def _synthetic(n=4000, t=2.5, b=-1.0, seed=0):
    """Raw scores whose true relevance rate is sigmoid(z / t + b): over-confident and biased."""
    rng = np.random.default_rng(seed)
    z = rng.normal(0.0, 4.0, n)
    y = (rng.random(n) < 1 / (1 + np.exp(-(z / t + b)))).astype(int)
    return 1 / (1 + np.exp(-z)), y


def test_fit_recovers_temperature_and_bias_and_lowers_ece():
    p, y = _synthetic()
    t, b = C.fit_platt(p[:2000], y[:2000])
    assert abs(t - 2.5) < 0.35 and abs(b + 1.0) < 0.25
    cal = C.Calibration(t, b, model="m", fingerprint="f")
    after = cal.apply(p[2000:])
    assert E.ece(after, y[2000:]) < 0.5 * E.ece(p[2000:], y[2000:])
    assert E.brier(after, y[2000:]) < E.brier(p[2000:], y[2000:])
    # a positive temperature never reorders passages
    assert np.all(np.diff(np.asarray(after)[np.argsort(p[2000:])]) >= 0)


def test_ece_and_brier_by_hand():
    p, y = [0.9, 0.9, 0.1, 0.1], [1, 0, 0, 0]
    # bin 9: |0.9 - 0.5| x 2/4; bin 1: |0.1 - 0| x 2/4
    assert E.ece(p, y) == pytest.approx(0.25)
    assert E.brier(p, y) == pytest.approx((0.01 + 0.81 + 0.01 + 0.01) / 4)
    rows = E.reliability(p, y)
    assert rows[9]["count"] == 2 and rows[9]["frac_relevant"] == 0.5 and rows[0]["count"] == 0


def test_fit_needs_both_labels():
    with pytest.raises(RankragError, match="both relevant and non-relevant"):
        C.fit_platt([0.2, 0.8], [1, 1])
    with pytest.raises(ValueError):
        C.Calibration(0.0, 0.0, model="m", fingerprint="f")


def test_probability_checks():
    assert C.check_probability(None, "--x") is None and C.check_probability(1, "--x") == 1.0
    for bad in (1.5, -0.1, float("nan")):
        with pytest.raises(RankragError, match=r"--abstain must be a probability in \[0, 1\]"):
            C.check_probability(bad, "--abstain")


def _adapter(folder, payload=b"weights-a"):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": "smollm2-135m"}))
    (folder / "adapter_model.safetensors").write_bytes(payload)
    return folder


def test_calibration_file_round_trip_and_other_model_is_an_error(tmp_path):
    a = _adapter(tmp_path / "a")
    b = _adapter(tmp_path / "b", b"weights-b")
    assert C.for_model(str(a)) is None  # nothing beside the model: raw scores
    cal = C.Calibration(1.7, -0.3, model=str(a), fingerprint=C.model_fingerprint(a))
    cal.save(C.default_path(str(a)))
    back = C.for_model(str(a))
    assert (back.temperature, back.bias, back.fingerprint) == (1.7, -0.3, cal.fingerprint)
    # another model's file, given explicitly or found beside it: one-line error naming the file
    with pytest.raises(RankragError) as e:
        C.for_model(str(b), a / "calibration.json")
    assert "fitted for model" in str(e.value) and "calibration.json" in str(e.value) and "\n" not in str(e.value)
    (b / "calibration.json").write_text((a / "calibration.json").read_text())
    with pytest.raises(RankragError, match="fitted for model"):
        C.for_model(str(b))
    # the same weights retrained (changed bytes) invalidate the old file
    (a / "adapter_model.safetensors").write_bytes(b"weights-a2")
    with pytest.raises(RankragError, match="fitted for model"):
        C.for_model(str(a))
    # another score method: an error when asked for, skipped when found automatically
    C.Calibration(1.7, -0.3, model=str(b), fingerprint=C.model_fingerprint(b)).save(b / "calibration.json")
    with pytest.raises(RankragError, match="--score true-false"):
        C.for_model(str(b), b / "calibration.json", method="true-vocab")
    assert C.for_model(str(b), method="true-vocab", auto=True) is None
    # another precision: NF4 shifts P(True), so a full-precision fit is refused for NF4 scores (an
    # error when asked for, skipped with a warning when found automatically), and the reverse
    with pytest.raises(RankragError, match="full-precision scores, not NF4") as e:
        C.for_model(str(b), b / "calibration.json", load_in_4bit=True)
    assert "calibrate --load-in-4bit" in str(e.value) and "\n" not in str(e.value)
    assert C.for_model(str(b), load_in_4bit=True, auto=True) is None
    assert C.for_model(str(b), auto=True).temperature == 1.7
    C.Calibration(1.2, 0.4, model=str(b), fingerprint=C.model_fingerprint(b), load_in_4bit=True).save(
        b / "calibration.json")
    assert C.Calibration.load(b / "calibration.json").load_in_4bit
    assert C.for_model(str(b), load_in_4bit=True).bias == 0.4
    with pytest.raises(RankragError, match="NF4 \\(--load-in-4bit\\) scores, not full-precision"):
        C.for_model(str(b), b / "calibration.json")
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(RankragError, match="not a calibration file"):
        C.for_model(str(b), tmp_path / "bad.json")


def test_reliability_plot_is_a_png(tmp_path):
    p, y = _synthetic(400)
    out = E.plot_reliability({"raw": (p, y)}, tmp_path / "rel.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_bad_probabilities_and_foreign_calibration_fail_before_loading(tmp_path):
    cands = candidates_from_twowiki(tmp_path / "c.jsonl", n=1, passages=2)
    out = tmp_path / "r.jsonl"
    r = runner.invoke(app, ["rerank", "--model", "smollm2-135m", "--input", str(cands), "--out", str(out),
                            "--min-score", "1.5"])
    assert r.exit_code == 2 and "--min-score must be a probability in [0, 1], got 1.5" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and not out.exists()
    other = _adapter(tmp_path / "other")
    C.Calibration(1.0, 0.0, model=str(other), fingerprint=C.model_fingerprint(other)).save(tmp_path / "o.json")
    r = runner.invoke(app, ["rerank", "--model", "smollm2-135m", "--input", str(cands), "--out", str(out),
                            "--calibration", str(tmp_path / "o.json")])
    assert r.exit_code == 2 and "fitted for model" in r.stderr and not out.exists()
    qs = tmp_path / "q.jsonl"
    qs.write_text(json.dumps({"question": "Who?", "answer": ["x"]}) + "\n")
    r = runner.invoke(app, ["rag", "--index", str(tmp_path / "noindex"), "--model", "smollm2-135m",
                            "--questions", str(qs), "--out", str(tmp_path / "rag"), "--abstain=-0.2"])
    assert r.exit_code == 2 and "--abstain must be a probability" in r.stderr and not (tmp_path / "rag").exists()
    for cmd in ("rerank", "rag", "calibrate"):
        h = runner.invoke(app, [cmd, "--help"])
        assert h.exit_code == 0
    assert "--min-score" in runner.invoke(app, ["rerank", "--help"]).output
    assert "--abstain-text" in runner.invoke(app, ["rag", "--help"]).output


# -- the real tiny model --------------------------------------------------------------------
def _tiny_calibration(tiny_model_path, t=1.0, b=0.0):
    return C.Calibration(t, b, model="smollm2-135m", fingerprint=C.model_fingerprint(tiny_model_path))


@pytest.mark.slow
def test_scorer_applies_calibration_and_min_score_cuts(tmp_path, tiny_model, tiny_model_path):
    from rankrag_lite.ranking.rerank import check_min_score, rerank_file
    from rankrag_lite.ranking.scorer import PTrueScorer

    model, tok = tiny_model
    pairs = [("Who wrote Hamlet?", "Hamlet is a tragedy by William Shakespeare."),
             ("Who wrote Hamlet?", "Paris is the capital of France.")]
    raw_scorer = PTrueScorer(model, tok, calibration=None)
    assert not raw_scorer.calibrated  # the cached base model has no calibration.json beside it
    with pytest.raises(RankragError, match="--min-score needs a calibrated model"):
        check_min_score(raw_scorer, 0.5)
    raw = raw_scorer.score(pairs)
    cal = _tiny_calibration(tiny_model_path, t=0.5, b=0.3)
    scored = PTrueScorer(model, tok, calibration=cal).score(pairs)
    z = np.log(raw) - np.log1p(-np.asarray(raw))
    assert scored == pytest.approx(list(1 / (1 + np.exp(-(z / 0.5 + 0.3)))), abs=1e-6)
    assert scored != pytest.approx(raw, abs=1e-3)
    # --min-score: keep passages at or above the threshold; the median cut drops about half
    cands = candidates_from_twowiki(tmp_path / "c.jsonl", n=2, passages=3, max_chars=80)
    scorer = PTrueScorer(model, tok, calibration=cal)
    full = tmp_path / "full.jsonl"
    rerank_file(scorer, cands, full, progress=False)
    all_scores = sorted(p["rerank_score"] for line in full.read_text().splitlines()
                        for p in json.loads(line)["passages"])
    cut = all_scores[len(all_scores) // 2]
    kept = tmp_path / "kept.jsonl"
    rerank_file(scorer, cands, kept, progress=False, min_score=check_min_score(scorer, cut))
    recs = [json.loads(x) for x in kept.read_text().splitlines()]
    assert sum(len(r["passages"]) for r in recs) == sum(s >= cut for s in all_scores) < len(all_scores)
    assert all(p["rerank_score"] >= cut for r in recs for p in r["passages"])
    assert all(r["dropped"] + len(r["passages"]) == 3 and r["best_score"] is not None for r in recs)


@pytest.mark.slow
def test_rag_abstains_below_the_threshold(tmp_path, tiny_model, tiny_model_path):
    from rankrag_lite.pipeline import ABSTAIN_TEXT, rag
    from rankrag_lite.retrieval import build_index

    from inference_helpers import short, twowiki

    docs = [{"id": f"d{j}", "title": p["title"], "text": short(p["text"], 80)}
            for j, p in enumerate(twowiki(1)[0]["passages"][:4])]
    build_index(docs).save(tmp_path / "index")
    qs = tmp_path / "q.jsonl"
    qs.write_text("\n".join(json.dumps({"question": r["question"], "answer": r["answers"]}) for r in twowiki(2)))
    cal = _tiny_calibration(tiny_model_path)
    with pytest.raises(RankragError, match="--abstain needs a calibrated model"):
        rag(tmp_path / "index", tiny_model_path, qs, tmp_path / "x", n=2, k=1, loaded=tiny_model,
            progress=False, abstain=0.5, calibration=None)
    s = rag(tmp_path / "index", tiny_model_path, qs, tmp_path / "all", n=2, k=1, max_new_tokens=3,
            loaded=tiny_model, progress=False, abstain=1.0, calibration=cal, abstain_text="none here")
    rows = [json.loads(x) for x in (tmp_path / "all" / "answers.jsonl").read_text().splitlines()]
    assert s["answers"]["abstained"] == 2 and s["answers"]["em"] == 0.0
    assert all(r["abstained"] and r["prediction"] == "none here" and 0 < r["best_score"] < 1 for r in rows)
    s = rag(tmp_path / "index", tiny_model_path, qs, tmp_path / "none", n=2, k=1, max_new_tokens=3,
            loaded=tiny_model, progress=False, abstain=0.0, calibration=cal)
    rows = [json.loads(x) for x in (tmp_path / "none" / "answers.jsonl").read_text().splitlines()]
    # threshold 0: every question with a candidate is answered; one with no BM25 hit has nothing
    # that passes and counts as abstained (and as wrong, with the questions asked)
    assert s["answers"]["abstained"] == s["answers"]["no_hits"] and s["calibrated"] is True
    assert all(not r["abstained"] and r["prediction"] != ABSTAIN_TEXT and r["top_pids"] for r in rows)


@pytest.mark.slow
def test_calibration_beside_the_model_is_found_and_claims_stay_raw(tmp_path, tiny_model, tiny_model_path):
    import shutil

    from rankrag_lite.generation import Answerer
    from rankrag_lite.ranking.scorer import PTrueScorer

    model, tok = tiny_model
    folder = tmp_path / "model"
    folder.mkdir()
    shutil.copy2(f"{tiny_model_path}/config.json", folder / "config.json")
    C.Calibration(3.0, -1.0, model=str(folder), fingerprint=C.model_fingerprint(folder)).save(folder / C.FILE_NAME)
    pairs = [("Who wrote Hamlet?", "Hamlet is a tragedy by William Shakespeare.")]
    claim = [("Hamlet was written by Shakespeare.", ["Hamlet is a tragedy by William Shakespeare."])]
    before = getattr(model, "rankrag_source")
    raw = PTrueScorer(model, tok, calibration=None).score(pairs)
    raw_claim = Answerer(model, tok).verify_claims(claim)[0]["p_true"]
    try:
        model.rankrag_source = str(folder)  # as load_model(folder) would note it
        auto = PTrueScorer(model, tok)
        assert auto.calibrated and auto.score(pairs) == pytest.approx(C.Calibration(
            3.0, -1.0, model="", fingerprint="").apply(raw), abs=1e-6)
        # claim verification reads P(True) of another prompt: the ranking calibration is not applied
        assert Answerer(model, tok).verify_claims(claim)[0]["p_true"] == pytest.approx(raw_claim, abs=1e-6)
        (folder / "config.json").write_text("{}")  # another model now: the old file is refused
        with pytest.raises(RankragError, match="fitted for model"):
            PTrueScorer(model, tok)
    finally:
        model.rankrag_source = before
