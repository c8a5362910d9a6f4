"""Ranking formats -> :class:`~rankrag_lite.data.schemas.RankingItem` (query, positives, negatives).

``qpn`` (``{query, pos[], neg[]}``, MS MARCO / FlagEmbedding), ``msmarco`` (hub ``microsoft/ms_marco``
rows ``{query, passages{is_selected[], passage_text[]}}``), ``climate-fever`` (``{claim,
evidences[{evidence, article, evidence_label}]}``: SUPPORTS / REFUTES evidence is relevant,
NOT_ENOUGH_INFO is not; the claim's own label is not used) and ``rankllm`` (a rank_llm run
``[{query, hits}]``: judged by TREC qrels, hits graded ``>= min_grade`` are positives, hits graded 0
negatives, unjudged hits unused). ``qpn`` and ``rankllm`` also give their queries as QA items."""

from __future__ import annotations

from collections.abc import Iterator

from rankrag_lite.data.schemas import Passage, QAItem, RankingItem
from rankrag_lite.errors import RankragError
from rankrag_lite.formats.fields import Records, need, objects, record_id, str_list
from rankrag_lite.formats.trec import rankllm_query, read_qrels

# Climate-FEVER labels: hub rows use integers (0 SUPPORTS, 1 REFUTES, 2 NOT_ENOUGH_INFO, 3 DISPUTED).
CF_LABELS = {0: "SUPPORTS", 1: "REFUTES", 2: "NOT_ENOUGH_INFO", 3: "DISPUTED"}
CF_RELEVANT = {"SUPPORTS", "REFUTES"}
_QID_KEYS = ("id", "qid", "query_id", "claim_id")


def sniff_qpn(rec: dict) -> bool:
    return "query" in rec and "pos" in rec


def sniff_rankllm(rec: dict) -> bool:
    return "query" in rec and "hits" in rec


def sniff_msmarco(rec: dict) -> bool:
    return "query" in rec and isinstance(rec.get("passages"), dict)


def sniff_climate_fever(rec: dict) -> bool:
    return "claim" in rec and "evidences" in rec


def read_qpn(recs: Records) -> Iterator[RankingItem]:
    where = recs.where
    for i, rec in objects(recs):
        qid = record_id(rec, i, _QID_KEYS)
        q = str(need(rec, "query", where, i))
        pos = [Passage(text=t, pid=f"{qid}-pos{j}", is_gold=True)
               for j, t in enumerate(str_list(need(rec, "pos", where, i)))]
        neg = [Passage(text=t, pid=f"{qid}-neg{j}", is_gold=False) for j, t in enumerate(str_list(rec.get("neg")))]
        if pos or neg:
            yield RankingItem(qid=qid, query=q, positives=pos, negatives=neg, source=recs.name)


def read_msmarco(recs: Records) -> Iterator[RankingItem]:
    """A query without a selected passage is unusable and skipped."""
    where = recs.where
    for i, rec in objects(recs):
        qid = record_id(rec, i, _QID_KEYS)
        q = str(need(rec, "query", where, i))
        ps = need(rec, "passages", where, i)
        texts, sel = ps.get("passage_text") or [], ps.get("is_selected") or []
        pos = [Passage(text=t, pid=f"{qid}-{j}", is_gold=True) for j, (t, s) in enumerate(zip(texts, sel)) if s]
        neg = [Passage(text=t, pid=f"{qid}-{j}", is_gold=False) for j, (t, s) in enumerate(zip(texts, sel)) if not s]
        if pos:
            yield RankingItem(qid=qid, query=q, positives=pos, negatives=neg, source=recs.name)


def read_climate_fever(recs: Records) -> Iterator[RankingItem]:
    where = recs.where
    for i, rec in objects(recs):
        qid = record_id(rec, i, _QID_KEYS)
        q = str(need(rec, "claim", where, i))
        pos, neg = [], []
        for j, ev in enumerate(need(rec, "evidences", where, i)):
            label = ev.get("evidence_label")
            label = CF_LABELS.get(label, label) if isinstance(label, int) else label
            if label is None or "evidence" not in ev:
                raise RankragError(f"{where}: record {i + 1} has evidence without 'evidence'/'evidence_label'")
            p = Passage(text=str(ev["evidence"]), title=str(ev.get("article") or ""),
                        pid=str(ev.get("evidence_id") or f"{qid}-{j}"), is_gold=label in CF_RELEVANT)
            (pos if p.is_gold else neg).append(p)
        if pos or neg:
            yield RankingItem(qid=qid, query=q, positives=pos, negatives=neg, source=recs.name)


def read_query_only(recs: Records) -> Iterator[QAItem]:
    """The queries of a ``qpn`` file or a ``rankllm`` run as QA items without answers."""
    for i, rec in objects(recs):
        q = str(need(rec, "query", recs.where, i))
        qid = rankllm_query(rec, recs.where, i)["qid"] if recs.fmt == "rankllm" else record_id(rec, i)
        yield QAItem(qid=qid, question=q, answers=[])


def read_judged_run(recs: Records, qrels_path: str, min_grade: int = 1) -> Iterator[RankingItem]:
    """Ranking items of a rank_llm run judged by the TREC qrels in ``qrels_path``."""
    if min_grade < 1:
        raise RankragError(f"min_grade must be >= 1, got {min_grade}")
    qrels = read_qrels(qrels_path)
    judged_queries = 0
    for i, rec in objects(recs):
        need(rec, "query", recs.where, i)
        need(rec, "hits", recs.where, i)
        cand = rankllm_query(rec, recs.where, i)
        grades = qrels.get(cand["qid"])
        if not grades:
            continue
        judged_queries += 1
        pos, neg = [], []
        for h in cand["passages"]:
            text = h["text"]
            if h["pid"] not in grades or not isinstance(text, str) or not text.strip():
                continue
            g = grades[h["pid"]]
            p = Passage(text=text, title=str(h["title"]), pid=h["pid"], is_gold=g >= min_grade)
            if g >= min_grade:
                pos.append(p)
            elif g <= 0:
                neg.append(p)
        if pos:
            yield RankingItem(qid=cand["qid"], query=str(rec["query"]), positives=pos, negatives=neg,
                              source=recs.name)
    if not judged_queries:
        raise RankragError(f"{recs.where}: no query of the run is judged in {qrels_path}")
