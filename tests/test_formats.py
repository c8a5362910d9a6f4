"""The format registry (rankrag_lite.formats): each fixture file sniffs to the reader of its family,
the registry is consistent, and each family turns bad input into one line naming the file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rankrag_lite import formats as F
from rankrag_lite.errors import RankragError
from rankrag_lite.formats import beir, sniff, trec
from rankrag_lite.formats.candidates import iter_candidates
from rankrag_lite.formats.corpus import is_tsv, iter_corpus_file, read_queries
from rankrag_lite.formats.fields import Records

FIX = Path(__file__).parent / "fixtures"
D = FIX / "blend_data"
INF = FIX / "inference"

# fixture file -> (format, family module): every source format with a fixture file
SOURCE_FIXTURES = {
    "qa/nq_open_dev.jsonl": ("nq-open", "qa"),
    "qa/webquestions_test.dpr.tsv": ("nq-open", "qa"),  # JSONL despite the name
    "qa/nq_open_oracle.jsonl.gz": ("ctxs", "qa"),
    "qa/squad_dev_expmrc.json": ("squad", "qa"),
    "qa/triviaqa_dev.dpr.tsv.gz": ("dpr-tsv", "qa"),
    "ranking/msmarco_dl19/topics.tsv": ("topics", "qa"),
    "multihop/hotpotqa_train.json": ("hotpotqa", "multihop"),
    "multihop/musique_train.json": ("musique", "multihop"),
    "multihop/twowiki_dev500_distractor.jsonl": ("passages", "multihop"),
    "multihop/hotpotqa_train_corpus.json": ("corpus", "corpus"),
    "ranking/msmarco_dl19/bm25_top100.json": ("rankllm", "ranking"),
    "ranking/examples/msmarco_hardneg10.jsonl": ("qpn", "ranking"),
    "ranking/climate_fever.jsonl.gz": ("climate-fever", "ranking"),
    "sft/sft_chat.jsonl.gz": ("chat", "chat"),
    "../retrieval_scifact/corpus.jsonl.gz": ("corpus", "corpus"),
}


@pytest.mark.parametrize("name", sorted(SOURCE_FIXTURES))
def test_each_fixture_sniffs_to_the_reader_of_its_family(name):
    fmt, family = SOURCE_FIXTURES[name]
    got, records = sniff.sniff_path(D / name)
    assert got == fmt
    reader = F.READERS[got]
    assert reader.family == family
    kind = next(k for k in ("qa", "ranking", "chat", "corpus") if getattr(reader, k) is not None)
    recs = Records(str(D / name), got, records)
    args = (str(INF / "dl19_qrels.txt"),) if kind == "ranking" and reader.judged else ()
    first = next(iter(getattr(reader, kind)(recs, *args)))
    assert first  # a real item came out of the format's own reader


def test_records_sniff_in_order_and_only_sniffable_formats_are_listed():
    assert set(F.registry.SNIFF_ORDER) == {n for n, r in F.READERS.items() if r.sniff is not None}
    assert F.sniff_record({"messages": [], "answers": ["a"]}) == "chatqa"  # before plain chat
    assert F.sniff_record({"messages": []}) == "chat"
    assert F.sniff_record({"query": "q", "hits": [], "passages": []}) == "rankllm"
    assert F.sniff_record({"question": "q", "context": "c", "answers": ["a"]}) == "squad"
    assert F.sniff_record({"question": "q", "answers": ["a"], "passages": []}) == "passages"
    assert F.sniff_record({"title": "t", "text": "x"}) == "corpus"
    assert F.sniff_record({"foo": 1}) is None and F.sniff_record(["not", "a", "dict"]) is None


def test_what_each_format_holds():
    assert set(F.QA_FORMATS) == {"nq-open", "ctxs", "squad", "dpr-tsv", "topics", "hotpotqa", "musique",
                                 "passages", "chatqa", "beir", "rankllm", "qpn"}
    assert set(F.RANKING_FORMATS) == {"qpn", "beir", "msmarco", "climate-fever", "rankllm", "ctxs", "squad",
                                      "hotpotqa", "musique", "passages"}
    assert set(F.CHAT_FORMATS) == {"chat", "dolly", "chatqa"}
    assert set(F.CORPUS_FORMATS) == {"corpus", "beir", "ctxs", "squad", "hotpotqa", "musique", "passages", "qpn"}
    assert [n for n, r in F.READERS.items() if r.judged] == ["rankllm"]
    with pytest.raises(RankragError, match=r"^x.json: format 'nq-open' holds no ranking items \(ranking formats"):
        F.reader("nq-open", "ranking", "x.json")
    with pytest.raises(RankragError, match="unknown format 'tsv'"):
        F.reader("tsv", "qa", "x")


def test_evaluation_sniffer(tmp_path):
    assert sniff.sniff_eval(INF / "twowiki_dev20.jsonl") == "passages"
    assert sniff.sniff_eval(INF / "dl19_bm25_top20.json") == "trec-dl"
    assert sniff.sniff_eval(D / "ranking/scifact") == "beir"
    assert sniff.sniff_eval(D / "multihop/hotpotqa_train.json") == "hotpotqa"
    assert sniff.sniff_eval(D / "multihop/musique_train.json") == "musique"
    assert sniff.sniff_eval(D / "qa/nq_open_oracle.jsonl.gz") == "ctxs"
    assert sniff.sniff_eval(D / "qa/nq_open_dev.jsonl") == "qa"
    assert sniff.sniff_eval(D / "qa/triviaqa_dev.dpr.tsv.gz") == "qa"
    cand = tmp_path / "cand.jsonl"
    cand.write_text(json.dumps({"qid": "1", "question": "q", "passages": [{"pid": "a", "text": "x"}]}) + "\n")
    assert sniff.sniff_eval(cand) == "candidates"
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    with pytest.raises(RankragError, match="empty.jsonl: no records"):
        sniff.sniff_eval(empty)


def test_candidate_input_sniffer_and_queries_layout(tmp_path):
    assert sniff.sniff_candidates(INF / "dl19_bm25_top20.json") == "rankllm"
    assert sniff.sniff_candidates(tmp_path / "c.jsonl") == "candidates"
    assert sniff.sniff_candidates(tmp_path / "run.trec", corpus="corpus.jsonl") == "trec"
    assert sniff.sniff_candidates(tmp_path / "c.jsonl", "rankllm") == "rankllm"
    with pytest.raises(RankragError, match="looks like a TREC run: pass --corpus"):
        sniff.sniff_candidates(tmp_path / "run.trec")
    with pytest.raises(RankragError, match="unknown input format 'csv'"):
        sniff.sniff_candidates(tmp_path / "c.jsonl", "csv")
    assert is_tsv(D / "ranking/msmarco_dl19/topics.tsv")
    assert not is_tsv(FIX / "retrieval_scifact/queries.jsonl")
    assert sniff.is_candidates_file(tmp_path / "r.jsonl.gz") and not sniff.is_candidates_file(tmp_path / "r.trec")
    assert read_queries(D / "ranking/msmarco_dl19/topics.tsv")[0] == ("156493", "do goldfish grow")
    assert read_queries(FIX / "retrieval_scifact/queries.jsonl")[0][0] == "1"


def test_beir_folder_and_qrels_read_by_the_same_reader():
    folder = D / "ranking/scifact"
    recs = Records(str(folder), "beir", None, folder=folder, split="train")
    queries, qrels = beir.queries_qrels(recs)
    assert qrels == trec.read_qrels(folder / "train.tsv") and set(qrels) <= set(queries)
    items = list(beir.read_ranking(recs))
    assert items and all(p.pid in qrels[it.qid] for it in items for p in it.positives)


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _one_line(exc: pytest.ExceptionInfo, *parts: str) -> None:
    msg = str(exc.value)
    assert "\n" not in msg
    for p in parts:
        assert p in msg, msg


def test_one_bad_input_error_per_family(tmp_path):
    from rankrag_lite.data import sources as S

    qa = _write(tmp_path / "qa.jsonl", '{"question": "q", "answer": ["a"]}\n{"answer": ["b"]}\n')
    with pytest.raises(RankragError) as e:  # qa
        S.load_qa(str(qa), fmt="nq-open")
    _one_line(e, f"{qa}: record 2 has no 'question' field")

    hp = _write(tmp_path / "hp.json", json.dumps([{"question": "q", "answer": "a", "context": []}]))
    with pytest.raises(RankragError) as e:  # multihop
        S.load_qa(str(hp), fmt="hotpotqa")
    _one_line(e, f"{hp}: record 1 has no 'supporting_facts' field")

    cf = _write(tmp_path / "cf.jsonl", json.dumps({"claim": "c", "evidences": [{"evidence": "e"}]}) + "\n")
    with pytest.raises(RankragError) as e:  # ranking
        S.load_ranking(str(cf))
    _one_line(e, f"{cf}: record 1 has evidence without 'evidence'/'evidence_label'")

    ch = _write(tmp_path / "ch.jsonl", json.dumps({"messages": [{"role": "bot", "content": "hi"}]}) + "\n")
    with pytest.raises(RankragError) as e:  # chat
        S.load_chat(str(ch))
    _one_line(e, f"{ch}: record 1 has a message with role 'bot'")

    co = _write(tmp_path / "co.jsonl", '{"id": "a", "text": "x"}\n\n{"id": "b", "title": "no text"}\n')
    with pytest.raises(RankragError) as e:  # corpus: names the file and line
        list(iter_corpus_file(co))
    _one_line(e, f"{co}:3: record has no 'text' field")

    folder = tmp_path / "beir"
    folder.mkdir()
    with pytest.raises(RankragError) as e:  # beir
        S.load_corpus(str(folder))
    _one_line(e, f"{folder}: BEIR folder without corpus.jsonl(.gz)")

    qrels = _write(tmp_path / "qrels.txt", "1 0 a 1\n1 0 b one\n")
    with pytest.raises(RankragError) as e:  # trec: qrels, run, candidates
        trec.read_qrels(qrels)
    _one_line(e, f"{qrels}:2: the grade must be a number")
    run = _write(tmp_path / "run.trec", "1 Q0 a 1 2.0 x\n1 Q0 b 2\n")
    with pytest.raises(RankragError) as e:
        list(trec.read_trec_run(run))
    _one_line(e, f"{run}:2: expected 'qid Q0 pid rank score tag'")
    cand = _write(tmp_path / "cand.jsonl", json.dumps({"qid": "7", "question": "q", "passages": [{"pid": "a"}]}))
    with pytest.raises(RankragError) as e:
        list(iter_candidates(cand))
    _one_line(e, f"{cand}:1: record (qid 7): passage 1 has no 'text'")

    odd = _write(tmp_path / "odd.jsonl", '{"foo": 1}\n')
    with pytest.raises(RankragError) as e:  # the sniffer
        S.load_qa(str(odd))
    _one_line(e, f"{odd}: cannot tell the format from the fields ['foo']")


def test_a_run_and_its_candidates_agree_on_query_ids():
    """rank_llm runs are read by one reader: its queries, candidates and judged items share qids."""
    from rankrag_lite.data import sources as S

    run = D / "ranking/msmarco_dl19/bm25_top100.json"
    qids = [it.qid for it in S.load_qa(str(run))]
    assert qids == [r["qid"] for r in iter_candidates(run)] == ["264014", "104861"]
    judged = S.load_ranking(str(run), qrels=str(INF / "dl19_qrels.txt"))
    assert {it.qid for it in judged} <= set(qids)


# ---- one vocabulary of format names ------------------------------------------------------------


def test_docs_formats_md_is_the_generated_table():
    """docs/formats.md is written from the registry; regenerate it when a format changes."""
    from rankrag_lite.formats.registry import formats_doc

    doc = Path(__file__).resolve().parent.parent / "docs" / "formats.md"
    assert doc.read_text(encoding="utf-8") == formats_doc(), (
        "docs/formats.md is stale: python -c \"from rankrag_lite.formats.registry import formats_doc; "
        "print(formats_doc(), end='')\" > docs/formats.md")
    for name in F.FORMATS:  # every name has its row
        assert f"| `{name}` |" in doc.read_text(encoding="utf-8")


def test_every_stage_takes_its_names_from_the_registry():
    from rankrag_lite.evaluation.datasets import EVAL_FORMATS
    from rankrag_lite.formats.sniff import INPUT_FORMATS

    assert set(INPUT_FORMATS) == {"auto", "candidates", "rankllm", "trec"}
    assert set(EVAL_FORMATS) == {"auto", "passages", "hotpotqa", "musique", "trec-dl", "beir", "qa", "candidates",
                                 "ctxs"}
    assert F.SOURCE_FORMATS == tuple(F.READERS) and set(F.SOURCE_FORMATS) < set(F.FORMATS)
    # one rank_llm JSON, two names: each stage takes both and spells it its own way
    assert F.stage_format("rerank", "trec-dl") == F.stage_format("sources", "trec-dl") == "rankllm"
    assert F.stage_format("evaluate", "rankllm") == "trec-dl"
    assert sniff.sniff_candidates(INF / "dl19_bm25_top20.json", "trec-dl") == "rankllm"
    assert F.stage_format("rerank", "nope") == "nope"


def test_a_rank_llm_file_reads_the_same_by_either_name():
    from rankrag_lite.data.sources import load_qa
    from rankrag_lite.evaluation.datasets import load_eval_set

    dl19 = INF / "dl19_bm25_top20.json"
    assert [i.question for i in load_qa(str(dl19), "trec-dl")] == [i.question for i in load_qa(str(dl19), "rankllm")]
    qrels = str(INF / "dl19_qrels.txt")
    a, b = load_eval_set(dl19, "trec-dl", qrels=qrels, limit=1), load_eval_set(dl19, "rankllm", qrels=qrels, limit=1)
    assert a.fmt == b.fmt == "trec-dl" and [i.passages for i in a.items] == [i.passages for i in b.items]
