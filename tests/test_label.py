"""`rankrag-lite label` (rankrag_lite/data/labels.py) and the blend's judge filter, with real judges
(the shipped adapter's P(True), MiniLM) on a tiny blend built from tests/fixtures/blend_data."""

from __future__ import annotations

import copy
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from cli_helpers import one_line_error as one_error
from rankrag_lite import prompts as P
from rankrag_lite.cli import app
from rankrag_lite.data import blend as B
from rankrag_lite.data.labels import label_pairs, pair_key, read_pairs

ROOT = Path(__file__).parent.parent
D = Path(__file__).parent / "fixtures" / "blend_data"
ADAPTER = "smollm2-135m-rankrag"

#: ranking parts only, a few questions: 30 distinct pairs in blend.jsonl (questions and claims)
RECIPE = {
    "name": "test-label",
    "seed": 5,
    "blend": {
        "max_passage_words": 40, "ranking_positives": 1, "ranking_negatives": 2, "num_passages": 3,
        "sources": {"nq": {"path": "qa/nq_open_oracle.jsonl.gz", "limit": 12},
                    "climate": {"path": "ranking/climate_fever.jsonl.gz", "limit": 6}},
        "mix": [{"part": "ranking", "source": "nq", "weight": 0.5},
                {"part": "ranking", "source": "climate", "weight": 0.2},
                {"part": "ra_ranking", "source": "nq", "weight": 0.3}],
    },
}


def rows(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]


def env() -> dict:
    return dict(os.environ, PYTHONPATH=str(ROOT), RANKRAG_LITE_QUIET="1", OMP_NUM_THREADS="1")


@pytest.fixture(scope="module")
def blend(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("label") / "blend"
    B.build_blend(copy.deepcopy(RECIPE), out, data_root=D)
    return out


@pytest.fixture(scope="module")
def parts_file(blend) -> Path:
    """Both ranking part files in one input: every pair the blend could draw."""
    path = blend.parent / "parts.jsonl"
    path.write_text((blend / "ranking.jsonl").read_text() + (blend / "ra_ranking.jsonl").read_text())
    return path


@pytest.fixture(scope="module")
def minilm_labels(parts_file) -> Path:
    out = parts_file.parent / "labels-minilm.jsonl"
    label_pairs(parts_file, out, ["minilm"])
    return out


def test_read_pairs_reads_every_ranking_pair(blend):
    pairs = read_pairs(blend)
    ranking = [r for r in rows(blend / "blend.jsonl") if r["part"] == "ranking"]
    ra = [r for r in rows(blend / "blend.jsonl") if r["part"] == "ra_ranking"]
    expected = set()
    for r in ranking:
        ex = P.read_ranking_example(r["messages"])
        expected.add((pair_key(ex.question, ex.passages[0]), ex.labels[0]))
        # the row is the prompt the pair gives back: the reader inverts the writer
        make = P.claim_ranking if ex.claim else P.context_ranking
        assert make(ex.question, ex.passages[0], label=ex.labels[0]) == r["messages"]
    for r in ra:
        ex = P.read_ranking_example(r["messages"])
        ids = [i for i, rel in enumerate(ex.labels, start=1) if rel]
        assert P.retrieval_augmented_ranking(ex.question, ex.passages, relevant_ids=ids) == r["messages"]
        expected |= {(pair_key(ex.question, p), rel) for p, rel in zip(ex.passages, ex.labels)}
    assert {(p.key, p.label) for p in pairs} == expected and len(pairs) == len(expected)
    assert {p.claim for p in pairs} == {True, False} and {p.part for p in pairs} == {"ranking", "ra_ranking"}
    assert all(p.qid and p.source for p in pairs)


@pytest.mark.slow
def test_adapter_judge_scores_every_pair_and_resumes(blend, tmp_path):
    """The shipped adapter judges every pair; a run killed midway continues from its partial file and
    ends with the scores an uninterrupted scorer gives."""
    out = tmp_path / "labels.jsonl"
    partial = tmp_path / ".labels.jsonl.partial"
    sample = ["--sample-negatives", "5", "--sample-positives", "5", "--seed", "0"]  # 10 pairs: CPU time
    cmd = [sys.executable, "-m", "rankrag_lite", "label", "--judge", ADAPTER, "--input", str(blend),
           "--out", str(out), "--chunk-size", "2", "--batch-size", "2", *sample]
    first = subprocess.Popen(cmd, env=env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             start_new_session=True)
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and first.poll() is None:
            if partial.exists() and len(partial.read_text().splitlines()) >= 1 + 4:  # header + two chunks
                break
            time.sleep(0.2)
        assert first.poll() is None, "the run ended before it could be killed"
        os.killpg(first.pid, signal.SIGKILL)
    finally:
        first.wait(30)
    assert not out.exists() and partial.exists()
    scored_before = len(partial.read_text().splitlines()) - 1
    res = subprocess.run(cmd, env=dict(env(), RANKRAG_LITE_QUIET="0"), capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr
    assert f"resuming: {scored_before} of" in res.stderr
    assert not partial.exists()

    recs = rows(out)
    from rankrag_lite.data.labels import sample_order

    pairs = read_pairs(blend)
    drawn = [pairs[i] for i in sorted(sample_order(pairs, 0, negatives=5, positives=5))]
    assert [r["key"] for r in recs] == [p.key for p in drawn]  # every drawn pair, once, in input order
    assert [r["label"] for r in recs].count(False) == 5 and {r["claim"] for r in recs} == {True, False}
    assert all(r["judge"] == ADAPTER and r["score"] == r["scores"][ADAPTER] for r in recs)
    # the same scores as the kit's scorer gives the pairs in one go (claims with the claim prompt)
    from rankrag_lite.model import RankRAG
    from rankrag_lite.ranking.scorer import PTrueScorer

    rr = RankRAG.from_pretrained(ADAPTER)
    claim = PTrueScorer(rr.model, rr.tokenizer, claim=True)
    for flag, scorer in ((False, rr.scorer), (True, claim)):
        mine = [r for r in recs if r["claim"] == flag]
        ref = scorer.score([(r["question"], {"title": r["title"], "text": r["text"]}) for r in mine])
        assert max(abs(a - r["score"]) for a, r in zip(ref, mine)) < 1e-4
    assert all(0.0 <= r["score"] <= 1.0 for r in recs) and len({round(r["score"], 6) for r in recs}) > 5


def test_seeded_sample_and_fused_scores(blend, tmp_path):
    """A sample of the same seed is the same file; a fused score is, per question, the mean of the
    judges' z-scores."""
    out = tmp_path / "fused.jsonl"
    summary = label_pairs(blend, out, ["minilm"], sample_negatives=3, sample_positives=2, seed=1)
    recs = rows(out)
    assert summary["pairs"] == len(recs) == 5 and summary["negatives"] == 3 and summary["positives"] == 2
    again = tmp_path / "again.jsonl"
    label_pairs(blend, again, ["minilm"], sample_negatives=3, sample_positives=2, seed=1)
    assert again.read_bytes() == out.read_bytes()  # the same seed draws the same sample
    from rankrag_lite.data.labels import fuse_scores

    pairs = read_pairs(blend)
    scores = [{"a": p, "b": 2 * p + 1} for p in (0.1, 0.5, 0.9)]
    same_q = [pairs[0]] * 3
    fused = fuse_scores(same_q, scores, {"a": "cosine", "b": "cosine"})
    assert fused == pytest.approx([-1.224744871, 0.0, 1.224744871])


def _filtered_recipe(labels: Path, **judge) -> dict:
    recipe = copy.deepcopy(RECIPE)
    recipe["blend"]["judge"] = {"labels": str(labels), **judge}
    return recipe


def test_thresholds_drop_exactly_the_pairs_they_should(blend, minilm_labels, tmp_path):
    scores = {r["key"]: r["score"] for r in rows(minilm_labels)}
    neg_scores = sorted(r["score"] for r in rows(minilm_labels) if r["label"] is False)
    pos_scores = sorted(r["score"] for r in rows(minilm_labels) if r["label"] is True)
    neg_at, pos_below = neg_scores[len(neg_scores) * 3 // 4], pos_scores[len(pos_scores) // 4]

    out = tmp_path / "filtered"
    manifest = B.build_blend(_filtered_recipe(minilm_labels, drop_negatives_at_or_above=neg_at,
                                              drop_positives_below=pos_below), out, data_root=D)

    def bad(question, passage, label):
        s = scores[pair_key(question, passage)]
        return (not label and s >= neg_at) or (label and s < pos_below)

    # ranking ("paired" lengths): rows come in (positive, negative) pairs, dropped together
    before = rows(blend / "ranking.jsonl")
    expected, reasons = [], {"negative_judged_relevant": 0, "positive_judged_irrelevant": 0,
                             "partner_of_dropped": 0}
    for pos, neg in zip(before[0::2], before[1::2]):
        verdicts = []
        for r in (pos, neg):
            ex = P.read_ranking_example(r["messages"])
            verdicts.append(bad(ex.question, ex.passages[0], ex.labels[0]))
        assert P.read_ranking_example(pos["messages"]).labels == (True,)
        if any(verdicts):
            reasons["positive_judged_irrelevant"] += verdicts[0]
            reasons["negative_judged_relevant"] += verdicts[1]
            reasons["partner_of_dropped"] += 2 - sum(verdicts)
        else:
            expected += [pos, neg]
    after = rows(out / "ranking.jsonl")
    assert after == expected and 0 < len(after) < len(before)
    # RA ranking: a row with a passage the judge disagrees with is dropped
    before_ra = rows(blend / "ra_ranking.jsonl")
    keep_ra = []
    for r in before_ra:
        ex = P.read_ranking_example(r["messages"])
        if not any(bad(ex.question, p, rel) for p, rel in zip(ex.passages, ex.labels)):
            keep_ra.append(r)
    assert rows(out / "ra_ranking.jsonl") == keep_ra and len(keep_ra) < len(before_ra)

    judge = manifest["judge"]
    assert set(judge["by_part"]["ranking"]) == {"nq", "climate"}
    got = {k: sum(c.get(k, 0) for c in judge["by_part"]["ranking"].values()) for k in reasons}
    assert got == reasons and reasons["negative_judged_relevant"] > 0 and reasons["positive_judged_irrelevant"] > 0
    assert sum(c.get("dropped_rows", 0) for c in judge["by_part"]["ra_ranking"].values()) == \
        len(before_ra) - len(keep_ra)
    assert judge["judge"] == "minilm" and judge["judged_pairs"] == len(scores)
    assert json.loads((out / "manifest.json").read_text())["judge"] == judge

    # the same seed gives the same blend, byte for byte
    again = tmp_path / "again"
    B.build_blend(_filtered_recipe(minilm_labels, drop_negatives_at_or_above=neg_at,
                                   drop_positives_below=pos_below), again, data_root=D)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == {p.name: p.read_bytes() for p in again.iterdir()}


def test_apply_to_blend_removes_drawn_rows_only(blend, minilm_labels, tmp_path):
    """``apply_to: blend``: the mix draws as without a judge, then the drawn rows the judge disagrees with
    go (a ranking row with its length partner, an RA-ranking row with any passage judged out); what is
    left is the unjudged blend.jsonl minus exactly those rows, in its order. ``pools`` (the default)
    redraws instead and keeps the size."""
    scores = {r["key"]: r["score"] for r in rows(minilm_labels)}
    neg_at = sorted(r["score"] for r in rows(minilm_labels) if r["label"] is False)[-6]

    def bad(r) -> bool:
        ex = P.read_ranking_example(r["messages"])
        return any(not rel and scores[pair_key(ex.question, p)] >= neg_at for p, rel in zip(ex.passages, ex.labels))

    # the rows judged out, by content: a ranking pair (positive, negative) goes together
    pool = rows(blend / "ranking.jsonl")
    out_rows, in_rows = set(), set()
    for pair in zip(pool[0::2], pool[1::2]):
        (out_rows if any(bad(r) for r in pair) else in_rows).update(json.dumps(r) for r in pair)
    for r in rows(blend / "ra_ranking.jsonl"):
        (out_rows if bad(r) else in_rows).add(json.dumps(r))
    assert out_rows and not out_rows & in_rows  # the fixture has no row both in a dropped and a kept pair

    before = rows(blend / "blend.jsonl")
    expected = [r for r in before if json.dumps(r) not in out_rows]
    assert 0 < len(expected) < len(before)
    out = tmp_path / "drawn"
    manifest = B.build_blend(_filtered_recipe(minilm_labels, drop_negatives_at_or_above=neg_at, apply_to="blend"),
                             out, data_root=D)
    assert rows(out / "blend.jsonl") == expected
    # the pools are the unjudged ones; the manifest counts what left the drawn blend, per part and source
    assert (out / "ranking.jsonl").read_bytes() == (blend / "ranking.jsonl").read_bytes()
    removed = manifest["judge"]["removed_from_blend"]
    assert manifest["judge"]["apply_to"] == "blend" and removed["rows"] == len(before) - len(expected)
    for part, by_source in removed["by_part"].items():
        for source, n in by_source.items():
            assert n == sum(1 for r in before if r["part"] == part and r["source"] == source
                            and json.dumps(r) in out_rows)
    assert manifest["blend"]["count"] == len(expected)

    pools = B.build_blend(_filtered_recipe(minilm_labels, drop_negatives_at_or_above=neg_at), tmp_path / "pools",
                          data_root=D)
    assert pools["blend"]["count"] == len(before) and "removed_from_blend" not in pools["judge"]
    assert not any(json.dumps(r) in out_rows for r in rows(tmp_path / "pools" / "blend.jsonl"))


def test_unjudged_drop_keeps_only_judged_pairs(blend, tmp_path):
    """Labels of blend.jsonl only (not the part files): ``unjudged: drop`` keeps only judged pairs. An
    unjudged row goes alone: its partner, drawn without it, stays (the climate rows of blend.jsonl hold no
    whole (positive, negative) pair; dropping partners would lose them all)."""
    labels = tmp_path / "blend-labels.jsonl"
    label_pairs(blend, labels, ["minilm"])
    judged = {r["key"] for r in rows(labels)}
    out = tmp_path / "judged-only"
    manifest = B.build_blend(_filtered_recipe(labels, unjudged="drop"), out, data_root=D)
    for r in rows(out / "ranking.jsonl") + rows(out / "ra_ranking.jsonl"):
        ex = P.read_ranking_example(r["messages"])
        assert all(pair_key(ex.question, p) in judged for p in ex.passages)
    assert manifest["judge"]["counts"]["unjudged"] > 0
    climate = [r for r in rows(blend / "blend.jsonl") if r["source"] == "climate"]
    kept = {json.dumps(r) for r in rows(out / "ranking.jsonl") if r["source"] == "climate"}
    assert climate and all(json.dumps(r) in kept for r in climate)


# ---- bad input: one line, exit 2, nothing written -------------------------------------------------------

runner = CliRunner()


def _label(*args):
    return runner.invoke(app, ["label", *map(str, args)])


def test_label_cli_bad_input(blend, tmp_path, fixtures):
    out = tmp_path / "x.jsonl"
    one_error(_label("--judge", "minilm", "--input", tmp_path / "none.jsonl", "--out", out), "input not found")
    one_error(_label("--judge", "minilm", "--input", fixtures / "sft_chat_40.jsonl", "--out", out),
              "no ranking pairs")
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"question": "q", "text": "t"}\n{not json\n')
    one_error(_label("--judge", "minilm", "--input", broken, "--out", out), "broken.jsonl:2", "not valid JSON")
    odd = tmp_path / "odd.jsonl"
    odd.write_text('{"query": "q"}\n')
    one_error(_label("--judge", "minilm", "--input", odd, "--out", out), "odd.jsonl:1", "neither a blend row")
    one_error(_label("--judge", "minilm", "--judge", "minilm", "--input", blend, "--out", out), "given twice")
    one_error(_label("--judge", "minilm", "--input", blend, "--out", blend / "blend.jsonl"), "is inside the input folder --input")
    one_error(_label("--judge", tmp_path / "no-model", "--input", blend, "--out", out), "unknown model")
    assert not out.exists() and not list(tmp_path.glob(".x.jsonl*"))
    res = _label("--help")
    for opt in ("--judge", "--input", "--out", "--sample-negatives", "--sample-positives", "--seed",
                "--batch-size", "--chunk-size", "--score", "--load-in-4bit", "--device"):
        assert opt in res.output


def test_blend_judge_config_errors(blend, minilm_labels, tmp_path):
    def build(recipe, *extra):
        path = tmp_path / "recipe.yaml"
        path.write_text(yaml.safe_dump(recipe))
        return runner.invoke(app, ["build-blend", "--recipe", str(path), "--data-root", str(D),
                                   "--out", str(tmp_path / "out"), *map(str, extra)])

    one_error(build(_filtered_recipe(tmp_path / "none.jsonl", drop_negatives_at_or_above=0.5)), "file not found")
    one_error(build(_filtered_recipe(minilm_labels)), "blend.judge", "change nothing")
    one_error(build(_filtered_recipe(minilm_labels, drop_negatives_at_or_above="high")),
              "blend.judge.drop_negatives_at_or_above")
    one_error(build(_filtered_recipe(minilm_labels, drop_negatives_at_or_above=0.5, unjudged="maybe")),
              "blend.judge.unjudged")
    one_error(build(_filtered_recipe(minilm_labels, drop_negatives_at_or_above=0.5, extra=1)), "unknown key")
    one_error(build(_filtered_recipe(blend / "blend.jsonl", drop_negatives_at_or_above=0.5)),
              "not a `rankrag-lite label` output")
    one_error(build(copy.deepcopy(RECIPE), "--labels", minilm_labels), "--labels needs a blend.judge")
    assert not (tmp_path / "out").exists()
    # --labels replaces the recipe's file
    res = build(_filtered_recipe(tmp_path / "none.jsonl", drop_negatives_at_or_above=0.9), "--labels",
                minilm_labels)
    assert res.exit_code == 0, res.output
    assert json.loads((tmp_path / "out" / "manifest.json").read_text())["judge"]["labels"] == str(minilm_labels)
