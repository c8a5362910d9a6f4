"""The Llama-3 recipe's hub sources in their real layouts, through the real hub path.

Each dataset repository is rebuilt by hand in a local mirror folder (``RANKRAG_LITE_HUB_MIRROR``):
the repository's README configs and data files with one or two rows written here in exactly the
hub's column names and nesting (ChatQA ``{messages, document, answers}``, narrativeqa's list-of-lists
answers, the ``sft`` rows without a document that end with a user turn, TAT-QA as two files of the
``tatqa`` folder, ``stanfordnlp/web_questions``, ``microsoft/ms_marco`` v2.1 parquet). The code
under test is the hub path itself: ``datasets.load_dataset(<mirror folder>, config, split=...,
data_files=..., streaming=...)`` and everything after it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rankrag_lite import prompts
from rankrag_lite.config import load_recipe
from rankrag_lite.data import sources as S
from rankrag_lite.data.blend import check_blend, parse_blend
from rankrag_lite.formats.hub import HUB_MIRROR_ENV, hub_rows

ROOT = Path(__file__).resolve().parents[1]
CHATQA = "nvidia/ChatQA-Training-Data"


def _jsonl(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def _readme(repo: Path, configs: dict[str, str]) -> None:
    lines = ["---", "configs:"]
    for name, pattern in configs.items():
        lines += [f"- config_name: {name}", "  data_files:", "  - split: train", f"    path: {pattern}"]
    (repo / "README.md").write_text("\n".join(lines + ["---", "", "hand-written rows in the hub layout", ""]))


def _ctx_row(q: str, doc: str, answers) -> dict:
    return {"messages": [{"role": "user", "content": q}], "document": doc, "answers": answers}


DOCS = [
    "The Eiffel Tower in Paris was finished in 1889 for the World's Fair and is 330 metres tall.",
    "Mount Everest, on the border of Nepal and China, is the highest mountain above sea level.",
]


@pytest.fixture
def mirror(tmp_path, monkeypatch):
    root = tmp_path / "mirror"
    repo = root / CHATQA
    configs = {}
    for name in ("drop", "quoref", "ropes"):
        _jsonl(repo / name / "train.json", [_ctx_row("When was the tower finished?", DOCS[0], ["1889"]),
                                            _ctx_row("Which is the highest mountain?", DOCS[1], ["Mount Everest"])])
        configs[name] = f"{name}/*"
    _jsonl(repo / "narrativeqa" / "train.json",
           [_ctx_row("Where is the tower?", DOCS[0], [["Paris", "in Paris"]]),
            _ctx_row("Where is Everest?", DOCS[1], [["Nepal and China"]])])
    configs["narrativeqa"] = "narrativeqa/*"
    _jsonl(repo / "tatqa" / "train_arithmetic.json", [_ctx_row("How tall in metres?", DOCS[0], ["330"])])
    _jsonl(repo / "tatqa" / "train_others.json", [_ctx_row("Which fair?", DOCS[0], ["the World's Fair"])])
    configs["tatqa"] = "tatqa/*"
    _jsonl(repo / "synthetic_convqa" / "train.json", [
        {"messages": [{"role": "user", "content": "What is the tower?"}, {"role": "assistant", "content": "A tower."},
                      {"role": "user", "content": "When was it finished?"}], "document": DOCS[0], "answers": ["1889"]},
        {"messages": [{"role": "user", "content": "Where is Everest?"}], "document": DOCS[1],
         "answers": ["On the border of Nepal and China."]}])
    configs["synthetic_convqa"] = "synthetic_convqa/*"
    _jsonl(repo / "sft" / "train.json", [
        {"messages": [{"role": "user", "content": "Say hi."}], "answers": ["Hi!"]},
        {"messages": [{"role": "user", "content": "Count to two."}, {"role": "assistant", "content": "1, 2"},
                      {"role": "user", "content": "And to three?"}], "answers": ["1, 2, 3"]}])
    configs["sft"] = "sft/*"
    (repo / "newsqa").mkdir()
    (repo / "newsqa" / "README.md").write_text("NewsQA: build it with the loading script (licence).\n")
    configs["newsqa"] = "newsqa/*.json"
    _readme(repo, configs)

    import datasets

    squad = root / "rajpurkar/squad"
    (squad / "plain_text").mkdir(parents=True)
    datasets.Dataset.from_list([
        {"id": f"s{i}", "title": t, "context": c, "question": q, "answers": {"text": [a], "answer_start": [c.index(a)]}}
        for i, (t, c, q, a) in enumerate([("Eiffel Tower", DOCS[0], "How tall is the Eiffel Tower?", "330 metres"),
                                          ("Mount Everest", DOCS[1], "Where is Mount Everest?", "Nepal")])
    ]).to_parquet(str(squad / "plain_text" / "train-00000-of-00001.parquet"))
    _readme(squad, {"plain_text": "plain_text/train-*"})
    wq = root / "stanfordnlp/web_questions"
    _jsonl(wq / "data" / "train.json", [{"url": "http://www.freebase.com/view/en/eiffel_tower",
                                         "question": "what year was the eiffel tower finished?", "answers": ["1889"]}])
    _readme(wq, {"default": "data/train.json"})
    marco = root / "microsoft/ms_marco"
    (marco / "v2.1").mkdir(parents=True)

    def mrow(qid, query, sel):
        return {"answers": ["x"], "passages": {"is_selected": sel, "passage_text": [DOCS[0], DOCS[1]],
                                               "url": ["http://a", "http://b"]},
                "query": query, "query_id": qid, "query_type": "DESCRIPTION", "wellFormedAnswers": []}

    datasets.Dataset.from_list([mrow(1, "highest mountain", [0, 0]), mrow(2, "eiffel tower height", [1, 0]),
                                mrow(3, "everest location", [0, 1])]
                               ).to_parquet(str(marco / "v2.1" / "train-00000-of-00001.parquet"))
    _readme(marco, {"v2.1": "v2.1/train-*"})
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
