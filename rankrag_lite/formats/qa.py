"""Single-hop QA formats -> :class:`~rankrag_lite.data.schemas.QAItem`.

``nq-open`` (``{question, answer[]}``), ``ctxs`` (DPR retriever / NQ-oracle ``{question, answers, ctxs}``),
``squad`` (original JSON or flat hub rows), ``dpr-tsv`` (``question<TAB>python-list``) and ``topics``
(``qid<TAB>query``, questions only). Each reader takes :class:`~rankrag_lite.formats.fields.Records`
and yields items in record order."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from rankrag_lite.data.schemas import Passage, QAItem
from rankrag_lite.errors import RankragError
from rankrag_lite.formats.fields import Records, need, objects, passage, question, record_id, str_list


def sniff_nq_open(rec: dict) -> bool:
    return "question" in rec and ("answer" in rec or "answers" in rec)


def sniff_ctxs(rec: dict) -> bool:
    return "ctxs" in rec


def sniff_squad(rec: dict) -> bool:
    return {"context", "question", "answers"} <= set(rec)


def read_nq_open(recs: Records) -> Iterator[QAItem]:
    where = recs.where
    for i, rec in objects(recs):
        q = question(rec, where, i)
        if "answer" not in rec and "answers" not in rec:
            raise RankragError(f"{where}: record {i + 1} has no 'answer' field")
        yield QAItem(qid=record_id(rec, i), question=q, answers=str_list(rec.get("answer", rec.get("answers"))))


def read_ctxs(recs: Records) -> Iterator[QAItem]:
    """A passage is gold when ``isgold`` / ``is_gold`` (else ``hasanswer`` / ``has_answer``)."""
    where = recs.where
    for i, rec in objects(recs):
        qid = record_id(rec, i)
        q = question(rec, where, i)
        answers = str_list(need(rec, "answers", where, i) if "answer" not in rec else rec["answer"])
        passages = []
        for j, c in enumerate(need(rec, "ctxs", where, i)):
            gold = c.get("isgold", c.get("is_gold"))
            if gold is None:
                gold = c.get("hasanswer", c.get("has_answer"))
            passages.append(passage(c, where, i, gold=bool(gold) if gold is not None else None, pid=f"{qid}-{j}"))
        yield QAItem(qid=qid, question=q, answers=answers, passages=passages)


def read_squad(recs: Records) -> Iterator[QAItem]:
    """Original SQuAD JSON ``{data[{title, paragraphs[{context, qas}]}]}`` or flat hub rows
    ``{id, title, context, question, answers{text[]}}``; the context is the gold passage."""
    where = recs.where
    if isinstance(recs.records, dict):
        n = 0
        for art in recs.records["data"]:
            title = art.get("title", "")
            for j, para in enumerate(art.get("paragraphs", [])):
                ctx = need(para, "context", where, n)
                for qa in need(para, "qas", where, n):
                    q = question(qa, where, n)
                    answers = str_list(qa.get("answers"))
                    if not answers:
                        raise RankragError(f"{where}: question {qa.get('id', n)} has no 'answers'")
                    yield QAItem(qid=str(qa.get("id", n)), question=q, answers=answers,
                                 passages=[Passage(text=ctx, title=title, pid=f"{title}#{j}", is_gold=True)])
                    n += 1
        return
    for i, rec in objects(recs):
        qid = record_id(rec, i)
        q = question(rec, where, i)
        ctx = need(rec, "context", where, i)
        answers = str_list(need(rec, "answers", where, i))
        yield QAItem(qid=qid, question=q, answers=answers,
                     passages=[Passage(text=ctx, title=str(rec.get("title") or ""), pid=f"ctx-{qid}", is_gold=True)])


def read_dpr_tsv(recs: Records) -> Iterator[QAItem]:
    """Rows ``question<TAB>['answer', ...]`` (DPR's qas files; csv quoting as DPR's own reader)."""
    for i, rec in enumerate(recs.records):
        row = rec["_row"]
        if len(row) < 2:
            raise RankragError(f"{recs.where}: line {i + 1} needs question<TAB>answers")
        try:
            answers = ast.literal_eval(row[1])
        except (ValueError, SyntaxError):
            raise RankragError(f"{recs.where}: line {i + 1}: answers are not a python list") from None
        yield QAItem(qid=str(i), question=row[0].strip(), answers=str_list(answers))


def read_topics(recs: Records) -> Iterator[QAItem]:
    """TREC topics ``qid<TAB>query``: questions without answers."""
    for i, rec in enumerate(recs.records):
        row = rec["_row"]
        if len(row) < 2:
            raise RankragError(f"{recs.where}: line {i + 1} needs qid<TAB>query")
        yield QAItem(qid=row[0].strip(), question=row[1].strip(), answers=[])
