"""The registry: one :class:`Reader` per source format, naming what the format holds.

A reader is the format's record sniffer (``None``: told only by its file layout) and its item
readers, each ``Records -> Iterator[item]``: ``qa`` (QAItem), ``ranking`` (RankingItem; a ``judged``
format's reader also takes the qrels path and ``min_grade``), ``chat`` (ChatItem), ``corpus``
(``{id, title, text}``). A format with gold-flagged passages gets its ranking items (gold passages
positive, the others negative) and its corpus (its passages, deduplicated) from its QA reader.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from rankrag_lite.data.schemas import QAItem, RankingItem
from rankrag_lite.errors import RankragError
from rankrag_lite.formats import beir, chat, multihop, qa, ranking
from rankrag_lite.formats.corpus import corpus_docs
from rankrag_lite.formats.fields import Records


@dataclass(frozen=True)
class Reader:
    name: str
    family: str  # the module that reads it
    sniff: Callable[[dict], bool] | None = None
    qa: Callable[..., Iterator] | None = None
    ranking: Callable[..., Iterator] | None = None
    chat: Callable[..., Iterator] | None = None
    corpus: Callable[..., Iterator] | None = None
    judged: bool = False  # its ranking items need TREC qrels (a retrieval run)


def ranking_from_qa(qa_reader: Callable[[Records], Iterator[QAItem]]) -> Callable[[Records], Iterator[RankingItem]]:
    """Ranking items of a QA format with gold flags: gold passages positive, the others negative;
    an item without a gold passage is skipped."""
    def read(recs: Records) -> Iterator[RankingItem]:
        for item in qa_reader(recs):
            pos = [p for p in item.passages if p.is_gold]
            if pos:
                yield RankingItem(qid=item.qid, query=item.question, positives=pos,
                                  negatives=[p for p in item.passages if not p.is_gold], source=recs.name)
    return read


def corpus_from_items(item_reader: Callable[[Records], Iterator]) -> Callable[[Records], Iterator[dict]]:
    """The passages of a QA or ranking format as corpus documents, deduplicated by title and text."""
    def read(recs: Records) -> Iterator[dict]:
        seen: set[tuple[str, str]] = set()
        n = 0
        for item in item_reader(recs):
            ps = item.positives + item.negatives if isinstance(item, RankingItem) else item.passages
            for p in ps:
                key = (p.title, p.text)
                if key not in seen:
                    seen.add(key)
                    yield {"id": p.pid or str(n), "title": p.title, "text": p.text}
                    n += 1
    return read


def _corpus_records(recs: Records) -> Iterator[dict]:
    return corpus_docs(recs.records, recs.where)


def _with_gold(name: str, family: str, sniff, read) -> Reader:
    return Reader(name, family, sniff, qa=read, ranking=ranking_from_qa(read), corpus=corpus_from_items(read))


def _sniff_corpus(rec: dict) -> bool:
    return "text" in rec and ("_id" in rec or "id" in rec or "title" in rec)


_READERS = [
    Reader("nq-open", "qa", qa.sniff_nq_open, qa=qa.read_nq_open),
    _with_gold("ctxs", "qa", qa.sniff_ctxs, qa.read_ctxs),
    _with_gold("squad", "qa", qa.sniff_squad, qa.read_squad),
    Reader("dpr-tsv", "qa", None, qa=qa.read_dpr_tsv),
    Reader("topics", "qa", None, qa=qa.read_topics),
    _with_gold("hotpotqa", "multihop", multihop.sniff_hotpotqa, multihop.read_hotpotqa),
    _with_gold("musique", "multihop", multihop.sniff_musique, multihop.read_musique),
    _with_gold("passages", "multihop", multihop.sniff_passages, multihop.read_passages),
    Reader("chatqa", "chat", chat.sniff_chatqa, qa=chat.read_chatqa_qa, chat=chat.read_chatqa_chat),
    Reader("beir", "beir", None, qa=beir.read_qa, ranking=beir.read_ranking, corpus=beir.read_corpus),
    Reader("rankllm", "ranking", ranking.sniff_rankllm, qa=ranking.read_query_only, ranking=ranking.read_judged_run,
           judged=True),
    Reader("qpn", "ranking", ranking.sniff_qpn, qa=ranking.read_query_only, ranking=ranking.read_qpn,
           corpus=corpus_from_items(ranking.read_qpn)),
    Reader("msmarco", "ranking", ranking.sniff_msmarco, ranking=ranking.read_msmarco),
    Reader("climate-fever", "ranking", ranking.sniff_climate_fever, ranking=ranking.read_climate_fever),
    Reader("chat", "chat", chat.sniff_chat, chat=chat.read_chat),
    Reader("dolly", "chat", chat.sniff_dolly, chat=chat.read_dolly),
    Reader("corpus", "corpus", _sniff_corpus, corpus=_corpus_records),
]

#: format name -> reader, in the order formats are listed to users
READERS: dict[str, Reader] = {r.name: r for r in _READERS}
#: the formats a source loader (``data.sources``, blend sources) reads
SOURCE_FORMATS = tuple(READERS)

#: the order records are sniffed in: the first format whose sniffer accepts a record's keys wins
#: (more specific layouts first: ChatQA before plain chat, rank_llm before ``passages`` ...)
SNIFF_ORDER = ("chatqa", "chat", "ctxs", "musique", "hotpotqa", "climate-fever", "qpn", "rankllm", "msmarco",
               "passages", "squad", "nq-open", "dolly", "corpus")


def holding(kind: str) -> tuple[str, ...]:
    """The formats with a ``kind`` reader (``qa``, ``ranking``, ``chat`` or ``corpus``)."""
    return tuple(n for n, r in READERS.items() if getattr(r, kind) is not None)


QA_FORMATS, RANKING_FORMATS, CHAT_FORMATS, CORPUS_FORMATS = (holding(k) for k in ("qa", "ranking", "chat", "corpus"))

_WHAT = {"qa": "QA items", "ranking": "ranking items", "chat": "chat items", "corpus": "passages"}


def reader(fmt: str, kind: str, where: str) -> Callable[..., Iterator]:
    """The ``kind`` reader of ``fmt``; a format without one is an error naming ``where``."""
    if fmt not in READERS:
        raise RankragError(f"unknown format {fmt!r} for {where}; choose one of {list(SOURCE_FORMATS)}")
    read = getattr(READERS[fmt], kind)
    if read is None:
        raise RankragError(f"{where}: format {fmt!r} holds no {_WHAT[kind]} "
                           f"({kind if kind != 'qa' else 'QA'} formats: {list(holding(kind))})")
    return read


def sniff_record(rec) -> str | None:
    """The format of one record, told from its keys (``None``: no format's)."""
    if not isinstance(rec, dict):
        return None
    return next((n for n in SNIFF_ORDER if READERS[n].sniff(rec)), None)


# --------------------------------------------------------------------------------------------------
# the format vocabulary: every name the kit takes, once (docs/formats.md is generated from it)
# --------------------------------------------------------------------------------------------------

#: who reads a format: the source loaders, ``rerank`` / ``answer`` inputs, ``evaluate`` sets
STAGES = {
    "sources": "source loaders (blend sources)",
    "rerank": "``rerank`` / ``answer`` ``--input-format``",
    "evaluate": "``evaluate --format``",
}


@dataclass(frozen=True)
class Format:
    """One format: its name, other names it is known by, what a file of it holds, who reads it, and
    the name a stage spells it with where that is an alias (``evaluate`` says ``trec-dl``)."""

    name: str
    holds: str
    stages: tuple[str, ...]
    aliases: tuple[str, ...] = ()
    spelled: tuple[tuple[str, str], ...] = ()  # (stage, name the stage uses)

    def name_in(self, stage: str) -> str:
        return dict(self.spelled).get(stage, self.name)


_S, _R, _E = ("sources",), ("rerank",), ("evaluate",)
_FORMATS = [
    Format("nq-open", "JSONL ``{question, answer[]}`` (also ``answers``; WebQuestions hub rows)", _S),
    Format("ctxs", "NQ-oracle / DPR retriever JSONL ``{question, answers, ctxs[{title, text, hasanswer, isgold}]}``; "
           "a passage is gold when ``isgold`` (else ``hasanswer``); to ``evaluate`` the given order is the "
           "retriever's", _S + _E),
    Format("squad", "SQuAD JSON ``{data[{title, paragraphs[{context, qas[...]}]}]}`` or flat hub rows "
           "``{id, title, context, question, answers{text[]}}``; the context is gold", _S),
    Format("dpr-tsv", "``question<TAB>python-list-of-answers`` (csv + ``ast.literal_eval``); a file named "
           "``.tsv`` whose lines are JSON is read as ``nq-open`` instead", _S),
    Format("topics", "TREC topics ``qid<TAB>query`` (questions only, no answers)", _S),
    Format("hotpotqa", "HotpotQA original JSON / distractor JSONL (``context`` + ``supporting_facts``, list or hub "
           "column layout); also 2WikiMultihopQA in its original layout; gold = supporting titles", _S + _E),
    Format("musique", "MuSiQue ``{paragraphs[{title, paragraph_text, is_supporting}], answer, answer_aliases}``",
           _S + _E),
    Format("passages", "normalised multi-hop JSONL ``{question, answers, passages[{title, text, is_gold}]}`` "
           "(the 2Wiki distractor file); no first-stage order", _S + _E),
    Format("chatqa", "ChatQA training rows ``{messages, document, answers}`` (context-rich QA)", _S),
    Format("beir", "BEIR folder: ``corpus.jsonl(.gz)``, ``queries.jsonl`` or ``queries_{split}.jsonl``, qrels "
           "``qrels/{split}.tsv`` or ``{split}.tsv`` (or a hub BEIR dataset); ``evaluate`` ranks the corpus "
           "with BM25 for the candidates", _S + _E),
    Format("rankllm", "rank_llm retrieve results ``[{query, hits[{content, qid, docid, score}]}]`` (TREC DL's "
           "``bm25_top100.json``): with TREC qrels (``load_ranking``, ``evaluate``: default ``qrels.txt`` beside "
           "it) hits judged at least ``min_grade`` are positives, hits judged 0 negatives", _S + _R + _E,
           aliases=("trec-dl",), spelled=(("evaluate", "trec-dl"),)),
    Format("qpn", "``{query, pos[], neg[]}`` JSONL (MS MARCO / FlagEmbedding style)", _S),
    Format("msmarco", "hub ``microsoft/ms_marco`` rows ``{query, passages{is_selected[], passage_text[]}}``", _S),
    Format("climate-fever", "``{claim, evidences[{evidence, article, evidence_label}]}``: evidence labelled "
           "SUPPORTS or REFUTES is relevant, NOT_ENOUGH_INFO is not (relevance, not truth)", _S),
    Format("chat", "``{messages[{role, content}]}`` JSONL", _S),
    Format("dolly", "``{instruction, context, response}`` (databricks-dolly-15k)", _S),
    Format("corpus", "``{_id|id, title, text}`` JSONL, a list of ``{title, text}``, or HotpotQA's "
           "``{title: [sentences]}`` corpus JSON", _S),
    Format("candidates", "JSONL ``{qid, question, passages[{pid, title, text, score}]}`` best first (what "
           "``retrieve`` writes; ``id``/``query``/``ctxs``/``content`` accepted); ``evaluate`` keeps the given "
           "order and reads ``is_gold`` / ``answers`` where present, with optional ``qrels``", _R + _E),
    Format("trec", "a TREC run ``qid Q0 pid rank score tag`` with ``--corpus`` (JSONL or BEIR folder) and "
           "``--queries`` (TSV or JSONL)", _R),
    Format("qa", "questions with answers (anything ``load_qa`` reads) + a ``corpus``: BM25 gives the candidates; "
           "gold = a passage contains an answer (DPR ``has_answer``: Recall@k is answer recall)", _E),
]
assert [f.name for f in _FORMATS if "sources" in f.stages] == list(READERS)

#: every format name the kit takes -> its :class:`Format` (aliases are looked up by :func:`stage_format`)
FORMATS: dict[str, Format] = {f.name: f for f in _FORMATS}


def stage_formats(stage: str) -> tuple[str, ...]:
    """The format names a stage takes (its own spelling), in the registry's order."""
    return tuple(f.name_in(stage) for f in _FORMATS if stage in f.stages)


def stage_format(stage: str, name: str) -> str:
    """The stage's name for a format given by any of its names (``trec-dl`` -> ``rankllm`` for the
    source loaders and ``rerank``, ``rankllm`` -> ``trec-dl`` for ``evaluate``); an unknown name is
    returned as it is (the caller's check names the choices)."""
    for f in _FORMATS:
        if stage in f.stages and (name == f.name or name in f.aliases):
            return f.name_in(stage)
    return name


def _read_by(f: Format, stage: str) -> str:
    if stage == "sources":  # the loaders its reader has
        return ", ".join(f"``load_{k}``" for k in ("qa", "ranking", "chat", "corpus") if getattr(READERS[f.name], k))
    return STAGES[stage] + (f" (as ``{f.name_in(stage)}``)" if f.name_in(stage) != f.name else "")


def format_table() -> str:
    """The Markdown table of every format (docs/formats.md)."""
    rows = ["| format | also called | holds | read by |", "|---|---|---|---|"]
    for f in _FORMATS:
        by = "; ".join(_read_by(f, s) for s in f.stages)
        holds = f.holds.replace("|", "\\|")  # a pipe inside a cell
        rows.append(f"| ``{f.name}`` | {', '.join(f'``{a}``' for a in f.aliases)} | {holds} | {by} |")
    return "\n".join(rows).replace("``", "`") + "\n"


def formats_doc() -> str:
    """The text of docs/formats.md."""
    return ("# Formats\n\n"
            "Every data format rankrag-lite reads, generated from `rankrag_lite.formats.registry.FORMATS` "
            "(regenerate: `python -c \"from rankrag_lite.formats.registry import formats_doc; "
            "print(formats_doc(), end='')\" > docs/formats.md`). `auto` (the default everywhere) tells the "
            "format from the file's name, layout and first record (`rankrag_lite.formats.sniff`).\n\n"
            + format_table())
