"""The Llama-3 recipe's hub sources in their real layouts, through the real hub path.

Each dataset repository is rebuilt by hand in a local mirror folder (``RANKRAG_LITE_HUB_MIRROR``;
``tests/hub_mirror.py`` writes it, in exactly the hub's column names and nesting). The code
under test is the hub path itself: ``datasets.load_dataset(<mirror folder>, config, split=...,
data_files=..., streaming=...)`` and everything after it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from rankrag_lite import prompts
from rankrag_lite.recipes import load_recipe
from rankrag_lite.data import sources as S
from rankrag_lite.data.blend import check_blend, parse_blend
from rankrag_lite.formats.hub import HUB_MIRROR_ENV, hub_rows

from hub_mirror import CHATQA, DOCS, _jsonl, _readme, build_dataset_mirror

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def mirror(tmp_path, monkeypatch):
    root = build_dataset_mirror(tmp_path / "mirror")
    monkeypatch.setenv(HUB_MIRROR_ENV, str(root))
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf-cache"))
    return root


def test_narrativeqa_list_of_lists_answers(mirror):
    items = S.load_qa(CHATQA, "chatqa", config="narrativeqa")
    assert [it.answers for it in items] == [["Paris", "in Paris"], ["Nepal and China"]]
    assert items[0].passages[0].text == DOCS[0] and items[0].passages[0].is_gold


def test_tatqa_files_through_data_files(mirror):
    arith = S.load_qa(CHATQA, "chatqa", config="tatqa", data_files="tatqa/train_arithmetic.json")
    others = S.load_qa(CHATQA, "chatqa", config="tatqa", data_files="tatqa/train_others.json")
    assert [it.answers for it in arith] == [["330"]]
    assert [it.answers for it in others] == [["the World's Fair"]]


def test_sft_rows_end_with_user_turn_reply_from_answers(mirror):
    items = S.load_chat(CHATQA, config="sft")  # sniffed: {messages, answers} is ChatQA, not plain chat
    assert items[0].messages == [{"role": "user", "content": "Say hi."}, {"role": "assistant", "content": "Hi!"}]
    assert items[1].messages[-1] == {"role": "assistant", "content": "1, 2, 3"}
    assert [m["role"] for m in items[1].messages] == ["user", "assistant", "user", "assistant"]


def test_convqa_history_and_final_question(mirror):
    it = S.load_qa(CHATQA, "chatqa", config="synthetic_convqa")[0]
    assert it.question == "When was it finished?" and it.answers == ["1889"]
    assert [h["role"] for h in it.history] == ["user", "assistant"]


def test_web_questions_new_name(mirror):
    items = S.load_qa("stanfordnlp/web_questions", split="train")
    assert items[0].answers == ["1889"] and not items[0].passages


def test_ms_marco_limit_counts_only_selected_and_streams(mirror):
    items = S.load_ranking("microsoft/ms_marco", "msmarco", split="train", config="v2.1", limit=1)
    assert [it.query for it in items] == ["eiffel tower height"]  # the query without a selected passage is skipped
    assert items[0].positives[0].text == DOCS[0] and items[0].negatives[0].text == DOCS[1]
    rows = hub_rows("microsoft/ms_marco", split="train", config="v2.1", streaming=True)
    assert not isinstance(rows, list)  # lazy: a limit stops reading the split
    assert len(S.load_ranking("microsoft/ms_marco", "msmarco", split="train", config="v2.1")) == 2


def test_streaming_stops_at_the_limit(mirror, tmp_path):
    # the third row lacks 'query': a loader that stops after the limit never reads it
    repo = mirror / "someone/marco-like"
    _jsonl(repo / "train.json", [{"query": "a", "passages": {"is_selected": [1], "passage_text": ["pa"]}},
                                 {"query": "b", "passages": {"is_selected": [1], "passage_text": ["pb"]}},
                                 {"passages": {"is_selected": [1], "passage_text": ["pc"]}}])
    _readme(repo, {"default": "train.json"})
    assert [it.query for it in S.load_ranking("someone/marco-like", "msmarco", limit=2)] == ["a", "b"]
    with pytest.raises(S.RankragError, match="record 3 has no 'query'"):
        S.load_ranking("someone/marco-like", "msmarco")


def test_newsqa_folder_without_data_is_one_line_error(mirror):
    with pytest.raises(S.RankragError) as e:
        S.load_qa(CHATQA, "chatqa", config="newsqa")
    assert "nvidia/ChatQA-Training-Data" in str(e.value) and "\n" not in str(e.value)


def test_shipped_llama3_recipe_checks_clean_on_the_hub_layouts(mirror):
    report = check_blend(ROOT / "recipes/llama3-8b.yaml", rows=5)
    assert report["problems"] == []
    src = report["sources"]
    assert "newsqa" not in src
    assert src["sft"]["parts"]["sft"]["examples"] == 2
    assert src["narrativeqa"]["parts"]["context_qa"]["examples"] == 2
    assert src["tatqa_arithmetic"]["parts"]["context_qa"]["examples"] == 1
    assert src["tatqa_others"]["parts"]["context_qa"]["examples"] == 1
    assert src["msmarco"]["records"] == 2  # the unselected query does not count
    assert src["msmarco"]["parts"]["ranking"]["examples"] == 4  # paired: 1 positive + 1 negative each


def test_check_reports_a_broken_source_and_writes_nothing(mirror, tmp_path):
    from rankrag_lite.cli import app

    recipe = load_recipe(ROOT / "recipes/llama3-8b.yaml")
    recipe["blend"]["sources"]["newsqa"] = {"path": CHATQA, "config": "newsqa", "format": "chatqa",
                                            "qa_instruction": "newsqa"}
    recipe["blend"]["mix"].append({"part": "context_qa", "source": "newsqa", "weight": 0.09})
    import yaml

    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump(recipe))
    before = sorted(p.name for p in tmp_path.iterdir())
    res = CliRunner().invoke(app, ["build-blend", "--recipe", str(path), "--check", "--check-rows", "3"])
    assert res.exit_code == 2, res.output
    assert "newsqa" in res.output and "recipe check: 1 problem(s)" in res.output
    assert "sft" in res.output
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_every_shipped_recipe_names_existing_qa_instructions():
    recipes = sorted((ROOT / "recipes").glob("*.yaml")) + sorted((ROOT / "rankrag_lite/assets").glob("*/recipe.yaml"))
    named = 0
    for path in recipes:
        recipe = load_recipe(path)
        if "blend" not in recipe:
            continue
        parse_blend(recipe)  # raises on an unknown instruction
        for name, spec in recipe["blend"]["sources"].items():
            if spec.get("qa_instruction") is not None:
                assert spec["qa_instruction"] in prompts.DATASET_INSTRUCTIONS, (path, name)
                named += 1
    assert named >= 8


def test_tatqa_instruction_is_the_papers():
    # App. C (docs: rankrag-paper.md) gives one TAT-QA instruction; both TAT-QA files use it
    text = "Answer the following question with a number from the context or through math arithmetic."
    assert prompts.DATASET_INSTRUCTIONS["tatqa"] == text == prompts.DATASET_INSTRUCTIONS["tatqa-arithmetic"]
    recipe = load_recipe(ROOT / "recipes/llama3-8b.yaml")["blend"]["sources"]
    assert {recipe["tatqa_arithmetic"]["qa_instruction"], recipe["tatqa_others"]["qa_instruction"]} <= {
        "tatqa", "tatqa-arithmetic"}
