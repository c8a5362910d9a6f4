"""``--fuse bm25[:W]``: first-stage BM25 score fused with the model's P(True) per query."""

from __future__ import annotations

import json
import math

import pytest
from typer.testing import CliRunner

from inference_helpers import DL19, DL19_QRELS, candidates_from_twowiki
from rankrag_lite.cli import app
from rankrag_lite.errors import RankragError
from rankrag_lite.ranking.calibration import to_logit
from rankrag_lite.ranking.fusion import DEFAULT_WEIGHT, EPS, Fusion, parse_fuse, standardise

runner = CliRunner()


def test_parse_fuse_weights_and_one_line_errors():
    assert parse_fuse("bm25") == Fusion(DEFAULT_WEIGHT)
    assert parse_fuse("bm25:0.3").weight == 0.3 and parse_fuse("bm25:1").label == "bm25:1"
    for bad, msg in (("bm25:1.5", "in \\[0, 1\\]"), ("bm25:x", "a number"), ("dense", "expected bm25"),
                     ("bm25:nan", "in \\[0, 1\\]")):
        with pytest.raises(RankragError, match=msg):
            parse_fuse(bad)
    with pytest.raises(ValueError):
        Fusion(-0.1)


def test_standardise_and_fuse_ends():
    z = standardise([1.0, 2.0, 3.0, 6.0])
    assert abs(sum(z)) < 1e-9 and abs(sum(x * x for x in z) / 4 - 1) < 1e-9
    assert standardise([2.0, 2.0]) == [0.0, 0.0]
    assert math.isfinite(to_logit(1.0, eps=EPS)) and to_logit(0.5, eps=EPS) == 0.0
    bm25, p = [9.0, 7.0, 5.0, 1.0], [0.1, 0.9, 0.5, 0.99]

    def order(s):
        return sorted(range(len(s)), key=lambda i: -s[i])

    assert order(Fusion(1.0).fuse(bm25, p)) == [0, 1, 2, 3]  # W = 1: the first stage's order
    assert order(Fusion(0.0).fuse(bm25, p)) == [3, 1, 2, 0]  # W = 0: the model's order
    mid = Fusion(0.5).fuse(bm25, p)
    assert mid[1] > mid[0] and mid[1] > mid[3]  # high on both beats high on one
    with pytest.raises(ValueError):
        Fusion(0.5).fuse([1.0], [0.1, 0.2])


@pytest.fixture(scope="module")
def dl19_top8(tmp_path_factory):
    """The first DL19 fixture query, top-8 of its BM25 hits (short passages: a quick CPU test)."""
    data = json.loads(DL19.read_text())[:1]
    for rec in data:
        rec["hits"] = rec["hits"][:8]
        for h in rec["hits"]:
            h["content"] = " ".join(h["content"].split()[:40])
    path = tmp_path_factory.mktemp("dl19") / "dl19_top8.json"
    path.write_text(json.dumps(data))
    return path


@pytest.mark.slow
def test_rerank_fuse_with_the_shipped_adapter(dl19_top8, tmp_path):
    outs = {}
    for w in ("0", "1", "0.5"):
        out = tmp_path / f"w{w}.jsonl"
        res = runner.invoke(app, ["rerank", "--model", "smollm2-135m-rankrag", "--input", str(dl19_top8),
                                  "--out", str(out), "--fuse", f"bm25:{w}"])
        assert res.exit_code == 0, res.output
        outs[w] = json.loads(out.read_text().splitlines()[0])
        run = (tmp_path / f"w{w}.trec").read_text().splitlines()
        # the run lists the fused order with the fused scores
        assert [ln.split()[2] for ln in run] == [p["pid"] for p in outs[w]["passages"]]
        assert float(run[0].split()[4]) == pytest.approx(outs[w]["passages"][0]["fused_score"], abs=1e-6)
        assert outs[w]["reranker"]["fuse"] == f"bm25:{float(w):g}"
    by_bm25 = [p["pid"] for p in sorted(outs["1"]["passages"], key=lambda p: -p["score"])]
    assert [p["pid"] for p in outs["1"]["passages"]] == by_bm25
    by_model = [p["pid"] for p in sorted(outs["0"]["passages"], key=lambda p: -p["rerank_score"])]
    assert [p["pid"] for p in outs["0"]["passages"]] == by_model
    assert by_model != by_bm25  # else the test could not tell the two ends apart
    # P(True) is the same in every run: fusion changes the order, not the model's score
    p0 = {p["pid"]: p["rerank_score"] for p in outs["0"]["passages"]}
    assert all(p0[p["pid"]] == pytest.approx(p["rerank_score"], abs=1e-6) for p in outs["0.5"]["passages"])


def test_rerank_fuse_without_first_stage_scores_is_one_line_and_writes_nothing(tmp_path):
    cand = candidates_from_twowiki(tmp_path / "cand.jsonl", n=2)  # passages without 'score'
    out = tmp_path / "out.jsonl"
    res = runner.invoke(app, ["rerank", "--model", "smollm2-135m-rankrag", "--input", str(cand), "--out",
                              str(out), "--fuse", "bm25:0.4"])
    assert res.exit_code == 2 and "no first-stage 'score'" in res.output
    assert not out.exists() and not out.with_suffix(".trec").exists()
    res = runner.invoke(app, ["rerank", "--model", "smollm2-135m-rankrag", "--input", str(cand), "--out",
                              str(out), "--fuse", "bm25:7"])
    assert res.exit_code == 2 and "in [0, 1]" in res.output


@pytest.mark.slow
def test_evaluate_fuse_rows(dl19_top8, tmp_path):
    from rankrag_lite.evaluation.datasets import load_eval_set
    from rankrag_lite.evaluation.runner import evaluate

    es = load_eval_set(str(dl19_top8), qrels=str(DL19_QRELS))
    s = evaluate(es, tmp_path / "ev", baselines=["given"], models=["smollm2-135m-rankrag"], answer=False,
                 fuse=[Fusion(1.0), Fusion(0.0), Fusion(0.5)], progress=False)
    rows = s["rankers"]
    name = "smollm2-135m-rankrag"
    assert set(rows) == {"given", name, f"{name}+bm25:1", f"{name}+bm25:0", f"{name}+bm25:0.5"}
    assert rows[f"{name}+bm25:1"]["metrics"] == rows["given"]["metrics"]
    assert rows[f"{name}+bm25:0"]["metrics"] == rows[name]["metrics"]
    assert "fused with" in rows[f"{name}+bm25:0.5"]["description"]
    res = runner.invoke(app, ["evaluate", "--data", str(dl19_top8), "--qrels", str(DL19_QRELS), "--out",
                              str(tmp_path / "e2"), "--rankers", "given", "--fuse", "bm25:0.3"])
    assert res.exit_code == 2 and "--fuse needs a --model" in res.output


def test_recall_plot_stops_at_the_candidates_and_keeps_the_legend_off_the_curves():
    import matplotlib.pyplot as plt

    from rankrag_lite.evaluation.report import recall_figure

    curve = [min(1.0, 0.1 * k) for k in range(1, 21)]
    summary = {"dataset": {"name": "set", "questions": 3, "candidates_max": 10},
               "rankers": {f"r{i}": {"curve": {"Recall": curve}} for i in range(6)}}
    fig = recall_figure(summary)
    ax = fig.axes[0]
    assert ax.get_xlim()[1] <= 10.5 and max(ax.get_xticks()) <= 10
    assert all(len(line.get_xdata()) == 10 for line in ax.get_lines())
    fig.canvas.draw()
    legend = ax.get_legend().get_window_extent()
    assert legend.x0 >= ax.get_window_extent().x1  # beside the axes, not over the curves
    plt.close(fig)
