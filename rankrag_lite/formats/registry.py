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
FORMATS = tuple(READERS)

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
        raise RankragError(f"unknown format {fmt!r} for {where}; choose one of {list(FORMATS)}")
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
