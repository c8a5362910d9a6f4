"""Source loaders on real fixture data (tests/fixtures/blend_data, see tests/fixtures/README.md).

The hub path (``datasets.load_dataset``) is exercised by pointing :func:`rankrag_lite.formats.hub.hub_rows` at local
files read through ``datasets.load_dataset("json", ...)``: the rows then take the same conversion code
as hub rows (hub layouts such as SQuAD's ``answers{text[]}`` or HotpotQA's column ``context``).
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from rankrag_lite.data import sources as S
from rankrag_lite.errors import RankragError
from rankrag_lite.formats import hub as hub_module

D = Path(__file__).parent / "fixtures" / "blend_data"


# ---- QA formats ---------------------------------------------------------------------------------


def test_nq_open():
    items = S.load_qa(str(D / "qa/nq_open_dev.jsonl"))
    assert len(items) == 8
    assert items[0].question == "when was the last time anyone was on the moon"
    assert items[0].answers == ["14 December 1972 UTC", "December 1972"]
    assert items[0].passages == []
    assert len(S.load_qa(str(D / "qa/nq_open_dev.jsonl"), limit=3)) == 3


def test_nq_oracle_gold_passage():
    items = S.load_qa(str(D / "qa/nq_open_oracle.jsonl.gz"))
    assert len(items) == 40
    for it in items:
        assert len(it.passages) == 1 and it.passages[0].is_gold and it.passages[0].title
        assert it.answers


def test_squad_json():
    items = S.load_qa(str(D / "qa/squad_dev_expmrc.json"))
    assert items and all(len(it.passages) == 1 and it.passages[0].is_gold for it in items)
    assert items[0].question == "What city in Victoria is called the sporting capital of Australia?"
    assert items[0].answers == ["Melbourne"]  # de-duplicated
    assert items[0].passages[0].title == "Victoria_(Australia)"


def test_dpr_tsv_with_csv_quoting():
    items = S.load_qa(str(D / "qa/triviaqa_dev.dpr.tsv.gz"))
    assert len(items) == 7
    assert items[0].question == "The VS-300 was a type of what?" and "Helicopter" in items[0].answers
    last = items[-1]  # a csv-quoted line of the real file
    assert last.question.startswith('"Who is told, in a Shakespearean play')
    assert last.answers == ['"Macbeth in ""Macbeth"""']


def test_webquestions_named_tsv_but_jsonl():
    items = S.load_qa(str(D / "qa/webquestions_test.dpr.tsv"))
    assert len(items) == 30
    assert items[0].question == "what does jamaican people speak?"
    assert items[0].answers == ["Jamaican Creole English Language", "Jamaican English"]


def test_twowiki_distractor():
    items = S.load_qa(str(D / "multihop/twowiki_dev500_distractor.jsonl"))
    assert len(items) == 6
    for it in items:
        assert len(it.passages) == 10 and 1 <= len(it.gold_passages) < 10
    assert items[0].answers == ["Cork"]


def test_hotpotqa_original():
    items = S.load_qa(str(D / "multihop/hotpotqa_train.json"))
    assert len(items) == 12
    it = items[0]
    assert it.question == "If Gallu is a demon Lilu is what?" and it.answers == ["a spirit"]
    assert len(it.passages) == 10 and {p.title for p in it.gold_passages} == {"Alû", "Lilu (mythology)"}


def test_musique():
    items = S.load_qa(str(D / "multihop/musique_train.json"))
    it = items[0]
    assert it.answers == ["G. Stanley Hall", "Stanley Hall"]
    assert len(it.passages) == 20 and len(it.gold_passages) == 2


def test_topics_and_rankllm_questions():
    topics = S.load_qa(str(D / "ranking/msmarco_dl19/topics.tsv"))
    assert [t.qid for t in topics][:2] == ["156493", "1110199"] and topics[0].question == "do goldfish grow"
    assert all(t.answers == [] for t in topics)
    assert S.load_questions(str(D / "ranking/msmarco_dl19/bm25_top100.json"))[0] == "how long is life cycle of flea"


# ---- ranking formats ----------------------------------------------------------------------------


def test_beir_folder_ranking_and_corpus():
    items = S.load_ranking(str(D / "ranking/scifact"), split="train")
    assert len(items) == 25
    corpus = S.load_corpus(str(D / "ranking/scifact"))
    ids = {d["id"] for d in corpus}
    assert len(corpus) == 170 and all(set(d) == {"id", "title", "text"} for d in corpus)
    for it in items:
        assert it.positives and all(p.pid in ids for p in it.positives)
    qrels = [line.split("\t") for line in (D / "ranking/scifact/train.tsv").read_text().splitlines()[1:]]
    assert sum(len(it.positives) for it in items) == len(qrels)
    with pytest.raises(RankragError, match="BEIR folder without queries.jsonl or queries_test.jsonl"):
        S.load_ranking(str(D / "ranking/scifact"), split="test")


def test_qpn_jsonl():
    items = S.load_ranking(str(D / "ranking/examples/msmarco_hardneg10.jsonl"))
    assert len(items) == 3
    raw = [json.loads(x) for x in (D / "ranking/examples/msmarco_hardneg10.jsonl").read_text().splitlines()]
    for it, r in zip(items, raw):
        assert it.query == r["query"] and [p.text for p in it.positives] == r["pos"]
        assert [p.text for p in it.negatives] == r["neg"]


def test_climate_fever_labels():
    items = S.load_ranking(str(D / "ranking/climate_fever.jsonl.gz"))
    raw = [json.loads(x) for x in gzip.open(D / "ranking/climate_fever.jsonl.gz", "rt")]
    assert len(items) == len(raw)
    for it, r in zip(items, raw):
        rel = [e["evidence"] for e in r["evidences"] if e["evidence_label"] in ("SUPPORTS", "REFUTES")]
        nei = [e["evidence"] for e in r["evidences"] if e["evidence_label"] == "NOT_ENOUGH_INFO"]
        assert [p.text for p in it.positives] == rel and [p.text for p in it.negatives] == nei


def test_qa_file_as_ranking_and_corpus():
    items = S.load_ranking(str(D / "multihop/hotpotqa_train.json"))
    assert all(len(it.positives) == 2 and len(it.negatives) == 8 for it in items)
    corpus = S.load_corpus(str(D / "qa/nq_open_oracle.jsonl.gz"))
    assert 0 < len(corpus) <= 40
    hp = S.load_corpus(str(D / "multihop/hotpotqa_train_corpus.json"))
    assert hp[0]["id"] == hp[0]["title"] and hp[0]["text"]
    mq = S.load_corpus(str(D / "multihop/musique_train_corpus.json"))
    assert mq[0]["title"] and mq[0]["text"]


# ---- chat ---------------------------------------------------------------------------------------


def test_chat():
    items = S.load_chat(str(D / "sft/sft_chat.jsonl.gz"))
    assert len(items) == 20
    assert any(len(it.messages) > 2 for it in items)
    assert all(it.messages[-1]["role"] == "assistant" for it in items)
    assert items[0].source


# ---- hub path (datasets.load_dataset on local files) -------------------------------------------


@pytest.fixture
def hub(monkeypatch, tmp_path):
    """Serve hub names from local JSONL files through ``datasets.load_dataset('json', ...)``."""
    import datasets

    files: dict[tuple, Path] = {}
    calls = []

    def fake(name, split=None, config=None, data_files=None, streaming=False):
        split = split or "train"  # hub_rows' default split
        calls.append((name, config, split))
        ds = datasets.load_dataset("json", data_files=str(files[(name, config, split)]), split="train",
                                   cache_dir=str(tmp_path / "hf-cache"))
        return [dict(r) for r in ds]

    monkeypatch.setattr(hub_module, "hub_rows", fake)

    def add(name, rows, split="train", config=None):
        p = tmp_path / f"{len(files)}.jsonl"
        p.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
        files[(name, config, split)] = p

    add.calls = calls
    return add


def test_hub_squad_flat_rows(hub):
    squad = json.loads((D / "qa/squad_dev_expmrc.json").read_text())
    rows = []
    for art in squad["data"]:
        for para in art["paragraphs"]:
            for qa in para["qas"]:
                rows.append({"id": qa["id"], "title": art["title"], "context": para["context"], "question": qa["question"],
                             "answers": {"text": [a["text"] for a in qa["answers"]],
                                         "answer_start": [a["answer_start"] for a in qa["answers"]]}})
    hub("rajpurkar/squad", rows, split="validation")
    items = S.load_qa("rajpurkar/squad", split="validation")
    local = S.load_qa(str(D / "qa/squad_dev_expmrc.json"))
    assert [(i.question, i.answers, i.passages[0].text) for i in items] == \
        [(i.question, i.answers, i.passages[0].text) for i in local]
    assert hub.calls == [("rajpurkar/squad", None, "validation")]


def test_hub_hotpot_columns(hub):
    raw = json.loads((D / "multihop/hotpotqa_train.json").read_text())
    rows = [{"id": r["_id"], "question": r["question"], "answer": r["answer"], "type": r["type"], "level": r["level"],
             "supporting_facts": {"title": [t for t, _ in r["supporting_facts"]],
                                  "sent_id": [s for _, s in r["supporting_facts"]]},
             "context": {"title": [t for t, _ in r["context"]], "sentences": [s for _, s in r["context"]]}}
            for r in raw]
    hub("hotpotqa/hotpot_qa", rows, config="distractor")
    items = S.load_qa("hotpotqa/hotpot_qa", config="distractor", split="train")
    local = S.load_qa(str(D / "multihop/hotpotqa_train.json"))
    assert [(i.question, i.answers, [(p.title, p.text, p.is_gold) for p in i.passages]) for i in items] == \
        [(i.question, i.answers, [(p.title, p.text, p.is_gold) for p in i.passages]) for i in local]


def test_hub_nq_open_climate_fever_and_chat(hub):
    nq = [json.loads(x) for x in (D / "qa/nq_open_dev.jsonl").read_text().splitlines()]
    hub("google-research-datasets/nq_open", nq, split="validation")
    assert [i.answers for i in S.load_qa("google-research-datasets/nq_open", split="validation")] == \
        [r["answer"] for r in nq]
    labels = {"SUPPORTS": 0, "REFUTES": 1, "NOT_ENOUGH_INFO": 2, "DISPUTED": 3}
    cf = [json.loads(x) for x in gzip.open(D / "ranking/climate_fever.jsonl.gz", "rt")]
    for r in cf:  # the hub uses integer labels
        r["claim_label"] = labels[r["claim_label"]]
        for e in r["evidences"]:
            e["evidence_label"] = labels[e["evidence_label"]]
    hub("tdiggelm/climate_fever", cf, split="test")
    hub_items = S.load_ranking("tdiggelm/climate_fever", split="test")
    local = S.load_ranking(str(D / "ranking/climate_fever.jsonl.gz"))
    assert [(len(i.positives), len(i.negatives)) for i in hub_items] == [(len(i.positives), len(i.negatives)) for i in local]
    chats = [json.loads(x) for x in gzip.open(D / "sft/sft_chat.jsonl.gz", "rt")]
    hub("some/chat", chats)
    assert [c.messages for c in S.load_chat("some/chat")] == [c.messages for c in S.load_chat(str(D / "sft/sft_chat.jsonl.gz"))]


def test_hub_dolly_and_chatqa(hub):
    hub("databricks/databricks-dolly-15k", [{"instruction": "Name a colour.", "context": "", "response": "Blue.",
                                             "category": "open_qa"}])
    (c,) = S.load_chat("databricks/databricks-dolly-15k")
    assert c.messages == [{"role": "user", "content": "Name a colour."}, {"role": "assistant", "content": "Blue."}]
    nq = S.load_qa(str(D / "qa/nq_open_oracle.jsonl.gz"), limit=2)
    rows = [{"messages": [{"role": "user", "content": i.question}], "document": i.passages[0].text,
             "answers": i.answers} for i in nq]
    hub("nvidia/ChatQA-Training-Data", rows, config="squad1.1")
    items = S.load_qa("nvidia/ChatQA-Training-Data", config="squad1.1")
    assert [(i.question, i.answers, i.passages[0].text, i.passages[0].is_gold) for i in items] == \
        [(i.question, i.answers, i.passages[0].text, True) for i in nq]


# ---- bad input ----------------------------------------------------------------------------------


def test_missing_file():
    with pytest.raises(RankragError, match="file not found: .*nope.jsonl"):
        S.load_qa("data/nope.jsonl")


def test_record_without_needed_field(tmp_path):
    p = tmp_path / "qa.jsonl"
    p.write_text('{"question": "q1", "answer": ["a"]}\n{"question": "q2"}\n')
    with pytest.raises(RankragError, match=r"qa.jsonl: record 2 has no 'answer' field"):
        S.load_qa(str(p), fmt="nq-open")
    p2 = tmp_path / "rank.jsonl"
    p2.write_text('{"query": "q", "neg": ["x"], "pos": null}\n')
    with pytest.raises(RankragError, match="record 1 has no 'pos' field"):
        S.load_ranking(str(p2), fmt="qpn")
    p3 = tmp_path / "odd.jsonl"
    p3.write_text('{"foo": 1}\n')
    with pytest.raises(RankragError, match="cannot tell the format"):
        S.load_qa(str(p3))


def test_wrong_kind_and_unknown_format():
    with pytest.raises(RankragError, match="holds no chat items"):
        S.load_chat(str(D / "qa/nq_open_dev.jsonl"))
    with pytest.raises(RankragError, match="unknown format"):
        S.load_qa(str(D / "qa/nq_open_dev.jsonl"), fmt="bogus")
    with pytest.raises(RankragError, match="holds no passages"):
        S.load_corpus(str(D / "qa/nq_open_dev.jsonl"))


def test_empty_corpus(tmp_path):
    p = tmp_path / "corpus.jsonl"
    p.write_text('{"_id": "1", "title": "t", "text": "x"}\n')
    assert S.load_corpus(str(p)) == [{"id": "1", "title": "t", "text": "x"}]
    p.write_text("")
    with pytest.raises(RankragError):
        S.load_corpus(str(p), fmt="corpus")
