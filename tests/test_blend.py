"""The Stage-2 blend and `rankrag-lite build-blend` on real fixture data (tests/fixtures/blend_data)."""

from __future__ import annotations

import copy
import gzip
import hashlib
import json
import re
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from rankrag_lite import prompts as P
from rankrag_lite.answers import has_answer, normalize_question
from rankrag_lite.cli import app
from rankrag_lite.data import blend as B
from rankrag_lite.data.sources import load_qa

D = Path(__file__).parent / "fixtures" / "blend_data"
RECIPES = Path(__file__).parent.parent / "recipes"

RECIPE = {
    "name": "test-blend",
    "seed": 3,
    "blend": {
        "size": 300,
        "max_passage_words": 60,
        "exclude": ["multihop/twowiki_dev500_distractor.jsonl", "ranking/msmarco_dl19/topics.tsv"],
        "sources": {
            "sft": {"path": "sft/sft_chat.jsonl.gz"},
            "nq": {"path": "qa/nq_open_oracle.jsonl.gz", "qa_instruction": "squad"},
            "squad": {"path": "qa/squad_dev_expmrc.json", "qa_instruction": "squad"},
            "webq": {"path": "qa/webquestions_test.dpr.tsv",
                     "corpus": ["qa/nq_open_oracle.jsonl.gz", "qa/squad_dev_expmrc.json",
                                "multihop/hotpotqa_train_corpus.json", "multihop/musique_train_corpus.json"]},
            "hotpotqa": {"path": "multihop/hotpotqa_train.json", "corpus": ["multihop/hotpotqa_train_corpus.json"]},
            "musique": {"path": "multihop/musique_train.json"},
            "scifact": {"path": "ranking/scifact", "split": "train"},
            "marco": {"path": "ranking/examples/msmarco_hardneg10.jsonl"},
            "climate": {"path": "ranking/climate_fever.jsonl.gz"},
        },
        "mix": [
            {"part": "sft", "source": "sft", "weight": 0.1},
            {"part": "context_qa", "source": "nq", "weight": 0.1},
            {"part": "context_qa", "source": "hotpotqa", "weight": 0.05},
            {"part": "ra_qa", "source": "squad", "weight": 0.1},
            {"part": "ra_qa", "source": "webq", "weight": 0.05},
            {"part": "ranking", "source": "nq", "weight": 0.2},
            {"part": "ranking", "source": "scifact", "weight": 0.1},
            {"part": "ranking", "source": "marco", "weight": 0.05},
            {"part": "ranking", "source": "climate", "weight": 0.05},
            {"part": "ranking", "source": "musique", "weight": 0.05},
            {"part": "ranking", "source": "webq", "weight": 0.05},
            {"part": "ra_ranking", "source": "nq", "weight": 0.05},
            {"part": "ra_ranking", "source": "hotpotqa", "weight": 0.05},
        ],
    },
}


def rows(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()]


def hashes(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def split_passages(user: str, tail: str) -> list[str]:
    """The passage bodies (title + text) of a numbered passage block."""
    block = user.split(tail)[0]
    parts = re.split(r"\n\n(?=Passage \d+: )", block)
    return [re.sub(r"^Passage \d+: ", "", p) for p in parts]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("blend") / "out"
    manifest = B.build_blend(copy.deepcopy(RECIPE), out, data_root=D)
    return out, manifest


# ---- output layout, manifest ----------------------------------------------------------------------


def test_files_and_manifest(built):
    out, manifest = built
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["sft.jsonl", "context_qa.jsonl", "ra_qa.jsonl", "ranking.jsonl", "ra_ranking.jsonl", "blend.jsonl",
         "manifest.json"])
    assert json.loads((out / "manifest.json").read_text()) == manifest
    for name, digest in manifest["files"].items():
        assert hashlib.sha256((out / name).read_bytes()).hexdigest() == digest
    assert set(manifest["files"]) == {p.name for p in out.iterdir()} - {"manifest.json"}
    for part, info in manifest["parts"].items():
        exs = rows(out / info["file"])
        assert len(exs) == info["count"] > 0
        assert all(e["part"] == part for e in exs)
        counts: dict[str, int] = {}
        for e in exs:
            counts[e["source"]] = counts.get(e["source"], 0) + 1
        assert counts == info["by_source"]
    blend = rows(out / "blend.jsonl")
    assert len(blend) == manifest["blend"]["count"] == 300
    for entry in manifest["blend"]["entries"]:
        n = sum(1 for e in blend if e["part"] == entry["part"] and e["source"] == entry["source"])
        assert n == entry["used"] == round(300 * entry["share"])
    assert manifest["seed"] == 3 and manifest["recipe"]["blend"]["size"] == 300
    for e in blend:
        assert set(e) == {"messages", "part", "source", "meta"}
        assert e["messages"][0] == {"role": "system", "content": P.SYSTEM_PROMPT}
        assert e["messages"][-1]["role"] == "assistant"


# ---- the five parts ---------------------------------------------------------------------------------


def test_sft_part(built):
    out, _ = built
    exs = rows(out / "sft.jsonl")
    src = [json.loads(x) for x in gzip.open(D / "sft/sft_chat.jsonl.gz", "rt")]
    assert [e["messages"][1:] for e in exs] == [r["messages"] for r in src]


def test_context_qa_part(built):
    out, _ = built
    exs = rows(out / "context_qa.jsonl")
    nq = {i.question: i for i in load_qa(str(D / "qa/nq_open_oracle.jsonl.gz"))}
    for e in exs:
        user = e["messages"][1]["content"]
        assert user.startswith("Passage: ")
        if e["source"] == "nq":
            assert "\n\nAnswer the following question with a short span. " in user
            q = user.rsplit("Answer the following question with a short span. ", 1)[1]
            assert e["messages"][2]["content"] == nq[q].answers[0]
            assert has_answer(nq[q].answers, user.split("\n\nAnswer the following")[0])
            assert e["messages"][1]["content"] == P.context_rich_qa(
                q, B.cut_passage(nq[q].passages[0], 60, nq[q].answers), dataset="squad")[1]["content"]


def test_ra_qa_part(built):
    out, _ = built
    exs = rows(out / "ra_qa.jsonl")
    assert {e["source"] for e in exs} == {"squad", "webq"}
    squad = {i.question: i for i in load_qa(str(D / "qa/squad_dev_expmrc.json"))}
    for e in exs:
        user = e["messages"][1]["content"]
        question = user.rsplit("\n\n", 1)[1]
        ps = split_passages(user, "\n\n" + question)
        assert len(ps) == 5
        answers = e["meta"]["answers"]
        assert e["messages"][2]["content"] == answers[0]
        # exactly one passage (the gold one) contains an answer: the BM25 passages never do
        assert sum(has_answer(answers, p) for p in ps) == 1
        if e["source"] == "squad":
            gold = squad[question].passages[0]
            shown = B.cut_passage(gold, 60, answers)
            assert f"{shown['title']}\n{shown['text']}" in ps


def test_ranking_part(built):
    out, _ = built
    exs = rows(out / "ranking.jsonl")
    kinds = {e["meta"]["kind"] for e in exs}
    assert {"gold", "answer", "bm25_negative", "given_negative"} <= kinds
    nq_gold = {i.question: i.passages[0].text for i in load_qa(str(D / "qa/nq_open_oracle.jsonl.gz"))}
    for e in exs:
        user, target = e["messages"][1]["content"], e["messages"][2]["content"]
        claim = e["source"] == "climate"
        tail = "\n\nFor the claim " if claim else "\n\nFor the question "
        passage = user.split(tail)[0][len("Passage: "):]
        instr = user.split("\n\n")[-1]
        assert instr.endswith(", access whether the passage is relevant to the claim. Return True if relevant, "
                              "otherwise False." if claim else
                              ", access whether the passage is relevant to the question. Return True if "
                              "relevant, otherwise False.")
        kind, answers = e["meta"]["kind"], e["meta"]["answers"]
        if kind in ("gold", "answer"):
            assert target == "True"
            if kind == "answer":
                assert has_answer(answers, passage)
            if e["source"] == "nq":  # gold: NQ's oracle passage for this very question
                q = instr[len("For the question "):].split(", access whether")[0]
                assert passage.split("\n", 1)[1] in " ".join(nq_gold[q].split())  # cut around the answer
        else:
            assert target == "False" and kind in ("bm25_negative", "given_negative")
            assert not (answers and has_answer(answers, passage))  # no negative contains the answer
    per_q: dict[tuple, list[str]] = {}
    for e in exs:
        per_q.setdefault((e["source"], e["meta"]["qid"]), []).append(e["messages"][2]["content"])
    nq_counts = [v for (s, _), v in per_q.items() if s == "nq"]
    assert all(v.count("True") == v.count("False") <= 3 for v in nq_counts)  # paired by length


def _body_words(e: dict) -> int:
    passage = e["messages"][1]["content"].split("\n\nFor the ")[0][len("Passage: "):]
    return len(passage.split("\n", 1)[-1].split())  # without the title line (absent when untitled)


def _lengths_by_label(exs: list[dict]) -> tuple[dict, dict]:
    pos: dict[tuple, list[int]] = {}
    neg: dict[tuple, list[int]] = {}
    for e in exs:
        key = (e["source"], e["meta"]["qid"])
        (pos if e["messages"][2]["content"] == "True" else neg).setdefault(key, []).append(_body_words(e))
    return pos, neg


def test_ranking_negative_lengths_carry_no_label_cue(built, tmp_path):
    """Length is not a label cue: by default ("paired") each negative comes with a positive of the
    same length. "cut" only shortens longer negatives; "off" keeps the real data's bias (negatives
    longer than the gold passages)."""
    out, _ = built
    exs = rows(out / "ranking.jsonl")
    pos, neg = _lengths_by_label(exs)
    assert len(neg) > 20
    for k in neg:  # per question, and so over the whole part: the same lengths for True and False
        assert sorted(pos[k]) == sorted(neg[k])
    assert sum(e["messages"][2]["content"] == "True" for e in exs) * 2 == len(exs)

    def build(mode: str):
        recipe = copy.deepcopy(RECIPE)
        recipe["blend"]["negative_lengths"] = mode
        B.build_blend(recipe, tmp_path / mode, data_root=D)
        return _lengths_by_label(rows(tmp_path / mode / "ranking.jsonl"))

    pos, neg = build("cut")
    pairs = [(n, max(pos[k])) for k in neg if k in pos for n in neg[k]]
    assert all(n <= p for n, p in pairs) and sum(n < p for n, p in pairs) > 0.1 * len(pairs)
    pos, neg = build("off")
    pairs = [(n, max(pos[k])) for k in neg if k in pos for n in neg[k]]
    assert sum(n > p for n, p in pairs) > 0.2 * len(pairs)


def test_ra_ranking_part(built):
    out, _ = built
    exs = rows(out / "ra_ranking.jsonl")
    hot = {i.question: i for i in load_qa(str(D / "multihop/hotpotqa_train.json"))}
    tail = "\n\nFor the question "
    for e in exs:
        user, target = e["messages"][1]["content"], e["messages"][2]["content"]
        assert user.endswith("access whether the above passages are relevant to the question. "
                             "Return all the relevant passage id.")
        ids = P.parse_relevant_ids(target)
        assert target == P.format_relevant_ids(ids) and ids
        ps = split_passages(user, tail)
        assert len(ps) == 5
        answers = e["meta"]["answers"]
        q = user.split(tail)[1].split(", access whether")[0]
        for i, p in enumerate(ps, start=1):
            if e["source"] == "hotpotqa":
                golds = {f"{g.title}\n" for g in hot[q].gold_passages}
                assert any(p.startswith(t) for t in golds) == (i in ids)
            else:
                assert has_answer(answers, p) == (i in ids)


def test_passages_cut(built):
    out, _ = built
    for e in rows(out / "ranking.jsonl")[:100]:
        passage = e["messages"][1]["content"].split("\n\nFor the ")[0]
        body = passage.split("\n", 1)[-1]
        assert len(body.split()) <= 60


def test_cut_passage_keeps_answer_window():
    from rankrag_lite.data.schemas import Passage

    words = [f"w{i}" for i in range(300)]
    words[250] = "Zanzibar"
    p = Passage(text=" ".join(words), title="T")
    cut = B.cut_passage(p, 50, ["Zanzibar"])
    assert len(cut["text"].split()) == 50 and "Zanzibar" in cut["text"]
    assert B.cut_passage(p, 50)["text"].split() == words[:50]
    assert B.cut_passage(p, None)["text"] == p.text


# ---- determinism, exclusion, atomicity --------------------------------------------------------------


def test_same_seed_same_bytes(built, tmp_path):
    out, _ = built
    again = tmp_path / "again"
    B.build_blend(copy.deepcopy(RECIPE), again, data_root=D)
    assert hashes(again) == hashes(out)
    other = tmp_path / "other"
    B.build_blend(copy.deepcopy(RECIPE), other, data_root=D, seed=4)
    h = hashes(other)
    assert h["blend.jsonl"] != hashes(out)["blend.jsonl"]
    assert json.loads((other / "manifest.json").read_text())["seed"] == 4


def test_exclude(built, tmp_path):
    _, manifest = built
    assert manifest["exclude"]["questions"] == 6 + 5  # 2Wiki dev questions + DL19 topics
    nq = load_qa(str(D / "qa/nq_open_oracle.jsonl.gz"))
    evalfile = tmp_path / "eval.jsonl"
    evalfile.write_text("".join(json.dumps({"question": i.question.upper() + " ?", "answer": i.answers}) + "\n"
                                for i in nq[:7]))
    out = tmp_path / "ex"
    m = B.build_blend(copy.deepcopy(RECIPE), out, data_root=D, exclude=[str(evalfile)])
    assert m["exclude"]["removed"] == 7 and m["exclude"]["removed_by_source"] == {"nq": 7}
    banned = {normalize_question(i.question) for i in nq[:7]}
    for f in out.glob("*.jsonl"):
        for e in rows(f):
            if e["source"] == "nq":
                assert e["meta"]["qid"] not in {i.qid for i in nq[:7]}
            assert not any(normalize_question(b) in banned for b in [e["messages"][-2]["content"]])


def test_interrupted_run_leaves_nothing(tmp_path, monkeypatch):
    out = tmp_path / "out"
    from rankrag_lite.data.blend import manifest as M

    real = M.write_lines
    calls = []

    def failing(path, records):
        calls.append(path)
        if len(calls) == 3:
            raise KeyboardInterrupt
        real(path, records)

    monkeypatch.setattr(M, "write_lines", failing)
    with pytest.raises(KeyboardInterrupt):
        B.build_blend(copy.deepcopy(RECIPE), out, data_root=D)
    assert list(tmp_path.iterdir()) == []
    # an earlier complete blend survives a failed rebuild untouched
    monkeypatch.setattr(M, "write_lines", real)
    B.build_blend(copy.deepcopy(RECIPE), out, data_root=D)
    before = hashes(out)
    calls.clear()
    monkeypatch.setattr(M, "write_lines", failing)
    with pytest.raises(KeyboardInterrupt):
        B.build_blend(copy.deepcopy(RECIPE), out, data_root=D)
    assert hashes(out) == before and [p.name for p in tmp_path.iterdir()] == ["out"]


def test_allocate_and_repeat():
    assert B.allocate([1, 1, 1], 10) == [4, 3, 3]
    assert sum(B.allocate([0.069, 0.09, 0.026], 1000)) == 1000
    assert B.allocate([1, 0], 5) == [5, 0]


# ---- recipes ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["tiny-cpu.yaml", "llama3-8b.yaml"])
def test_shipped_recipes_validate(name):
    recipe = yaml.safe_load((RECIPES / name).read_text())
    cfg = B.parse_blend(recipe)
    assert {m.part for m in cfg.mix} == set(B.PARTS)


def test_llama3_recipe_app_b_ratios():
    cfg = B.parse_blend(yaml.safe_load((RECIPES / "llama3-8b.yaml").read_text()))
    total = sum(m.weight for m in cfg.mix)
    assert total == pytest.approx(1.241)  # App. B's 1.331 less NewsQA's 0.09 (dropped: README deviations)
    ranking = sum(m.weight for m in cfg.mix if m.part in ("ranking", "ra_ranking"))
    assert ranking / total == pytest.approx((0.15 + 0.03 + 0.02 + 0.02) / 1.241)


# ---- CLI and bad input --------------------------------------------------------------------------------

runner = CliRunner()


def run_cli(tmp_path, recipe: dict | None, extra: list[str] = (), recipe_path: Path | None = None):
    if recipe_path is None:
        recipe_path = tmp_path / "recipe.yaml"
        recipe_path.write_text(yaml.safe_dump(recipe))
    out = tmp_path / "out"
    result = runner.invoke(app, ["build-blend", "--recipe", str(recipe_path), "--out", str(out),
                                 "--data-root", str(D), *extra])
    return result, out


def test_cli_builds(tmp_path):
    recipe = copy.deepcopy(RECIPE)
    recipe["blend"]["size"] = 50
    result, out = run_cli(tmp_path, recipe, ["--seed", "9", "--exclude", str(D / "qa/nq_open_dev.jsonl")])
    assert result.exit_code == 0, result.output
    m = json.loads((out / "manifest.json").read_text())
    assert m["seed"] == 9 and m["blend"]["count"] == 50
    assert m["exclude"]["files"][-1] == str(D / "qa/nq_open_dev.jsonl")
    assert "build-blend" in runner.invoke(app, ["--help"]).output
    help_text = runner.invoke(app, ["build-blend", "--help"]).output
    for opt in ("--recipe", "--out", "--data-root", "--seed", "--exclude", "--size"):
        assert opt in help_text


def test_cli_size_overrides_the_recipe(tmp_path):
    recipe = copy.deepcopy(RECIPE)
    recipe["blend"]["size"] = 50
    result, out = run_cli(tmp_path, recipe, ["--size", "20"])
    assert result.exit_code == 0, result.output
    m = json.loads((out / "manifest.json").read_text())
    assert m["blend"]["count"] == 20 == len(rows(out / "blend.jsonl")) and m["recipe"]["blend"]["size"] == 20
    assert sum(e["used"] for e in m["blend"]["entries"]) == 20
    assert all(m["parts"][p]["count"] == len(rows(out / f"{p}.jsonl")) for p in m["parts"])  # part files whole


def _mutate(fn):
    recipe = copy.deepcopy(RECIPE)
    fn(recipe["blend"])
    return recipe


def _empty_corpus_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "beir"
    folder.mkdir()
    (folder / "corpus.jsonl").write_text("")
    (folder / "queries.jsonl").write_text('{"_id": "1", "text": "a claim"}\n')
    (folder / "qrels").mkdir()
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n1\t5\t1\n")
    return folder


BAD = {
    "missing data file": (lambda b: b["sources"]["nq"].update(path="qa/missing.jsonl.gz"), "file not found"),
    "missing exclude file": (lambda b: b["exclude"].append("qa/nope.jsonl"), "file not found"),
    "ratios sum to zero": (lambda b: [m.update(weight=0) for m in b["mix"]], "sum to a positive"),
    "negative weight": (lambda b: b["mix"][0].update(weight=-1), "weight must be"),
    "unknown key": (lambda b: b.update(sizee=3), "unknown key"),
    "unknown source key": (lambda b: b["sources"]["nq"].update(pathh="x"), "unknown key"),
    "wrong type": (lambda b: b.update(size="big"), "blend.size: expected"),
    "unknown part": (lambda b: b["mix"][0].update(part="pretrain"), "blend.mix[0].part"),
    "unknown source in mix": (lambda b: b["mix"][0].update(source="nope"), "unknown source 'nope'"),
    "part with no examples": (lambda b: (b["sources"].update(nqopen={"path": "qa/nq_open_dev.jsonl"}),
                                         b["mix"].append({"part": "context_qa", "source": "nqopen", "weight": 1})),
                              "part 'context_qa' from source 'nqopen' has no examples"),
    "source without answers for QA": (lambda b: b["mix"].append({"part": "ra_qa", "source": "scifact", "weight": 1}),
                                      "needs questions with answers"),
    "unknown format": (lambda b: b["sources"]["nq"].update(format="xml"), "unknown format"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_cli_bad_input(tmp_path, case):
    fn, message = BAD[case]
    result, out = run_cli(tmp_path, _mutate(fn))
    assert result.exit_code != 0
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    assert message in lines[0]
    assert not out.exists() and not any(p.name.startswith(".out") for p in tmp_path.iterdir())


def test_cli_bad_records_and_empty_corpus(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "q", "answers": ["a"], "ctxs": [{"title": "t"}]}\n')
    result, out = run_cli(tmp_path, _mutate(lambda b: b["sources"]["nq"].update(path=str(bad))))
    assert result.exit_code != 0 and not out.exists()
    assert result.output.strip().count("\n") == 0 and "bad.jsonl: record 1 has a passage without 'text'" in result.output
    folder = _empty_corpus_folder(tmp_path)
    recipe = _mutate(lambda b: (b["sources"].update(empty={"path": str(folder), "split": "test"}),
                                b["mix"].append({"part": "ranking", "source": "empty", "weight": 1})))
    result, out = run_cli(tmp_path, recipe)
    assert result.exit_code != 0 and not out.exists()
    assert "empty corpus" in result.output and result.output.strip().count("\n") == 0


def test_cli_missing_recipe(tmp_path):
    result, out = run_cli(tmp_path, None, recipe_path=tmp_path / "none.yaml")
    assert result.exit_code != 0 and "recipe not found" in result.output and not out.exists()


def test_blend_summary_shows_blend_and_part_counts():
    from rankrag_lite.cli.blend_cmd import blend_counts

    manifest = {"parts": {"sft": {"count": 2000}, "ranking": {"count": 40}},
                "blend": {"entries": [{"part": "sft", "used": 29}, {"part": "ranking", "used": 30},
                                      {"part": "ranking", "used": 10}]}}
    assert blend_counts(manifest) == "sft 29/2000, ranking 40/40"
