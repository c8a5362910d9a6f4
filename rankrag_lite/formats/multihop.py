"""Multi-hop distractor formats -> :class:`~rankrag_lite.data.schemas.QAItem` with gold flags.

``hotpotqa`` (HotpotQA / 2WikiMultihopQA original: ``context`` + ``supporting_facts``, list or hub
column layout), ``musique`` (``paragraphs[{title, paragraph_text, is_supporting}]``) and ``passages``
(normalised ``{question, answers, passages[{title, text, is_gold}]}``, the 2Wiki distractor file)."""

from __future__ import annotations

from collections.abc import Iterator

from rankrag_lite.data.schemas import Passage, QAItem
from rankrag_lite.errors import RankragError
from rankrag_lite.formats.fields import Records, need, objects, passage, question, record_id, str_list


def sniff_hotpotqa(rec: dict) -> bool:
    return "context" in rec and "supporting_facts" in rec


def sniff_musique(rec: dict) -> bool:
    return "paragraphs" in rec and "question" in rec


def sniff_passages(rec: dict) -> bool:
    return "passages" in rec and "question" in rec


def read_hotpotqa(recs: Records) -> Iterator[QAItem]:
    """Gold passages are the titles named in ``supporting_facts``."""
    where = recs.where
    for i, rec in objects(recs):
        q = question(rec, where, i)
        answers = str_list(need(rec, "answer", where, i))
        ctx = need(rec, "context", where, i)
        sf = need(rec, "supporting_facts", where, i)
        if isinstance(ctx, dict):  # hub columns: {title: [...], sentences: [[...]]}
            ctx = list(zip(ctx.get("title", []), ctx.get("sentences", [])))
        if isinstance(sf, dict):
            sf = list(zip(sf.get("title", []), sf.get("sent_id", [])))
        gold_titles = {t for t, *_ in sf}
        passages = []
        for pair in ctx:
            title, sents = pair[0], pair[1]
            text = "".join(sents) if isinstance(sents, list) else str(sents)
            passages.append(Passage(text=text.strip(), title=str(title), pid=str(title),
                                    is_gold=title in gold_titles))
        yield QAItem(qid=record_id(rec, i), question=q, answers=answers, passages=passages)


def read_musique(recs: Records) -> Iterator[QAItem]:
    """Answers are ``answer`` + ``answer_aliases``; gold passages are ``is_supporting``."""
    where = recs.where
    for i, rec in objects(recs):
        qid = record_id(rec, i)
        q = question(rec, where, i)
        answers = str_list([need(rec, "answer", where, i)] + list(rec.get("answer_aliases") or []))
        passages = [passage(p, where, i, gold=bool(p.get("is_supporting")), pid=f"{qid}-{p.get('idx', j)}")
                    for j, p in enumerate(need(rec, "paragraphs", where, i))]
        yield QAItem(qid=qid, question=q, answers=answers, passages=passages)


def read_passages(recs: Records) -> Iterator[QAItem]:
    where = recs.where
    for i, rec in objects(recs):
        qid = record_id(rec, i)
        q = question(rec, where, i)
        answers = str_list(rec.get("answers", rec.get("answer")))
        if not answers and "answers" not in rec and "answer" not in rec:
            raise RankragError(f"{where}: record {i + 1} has no 'answers' field")
        passages = [passage(p, where, i, gold=p.get("is_gold"), pid=f"{qid}-{j}")
                    for j, p in enumerate(need(rec, "passages", where, i))]
        yield QAItem(qid=qid, question=q, answers=answers, passages=passages)
