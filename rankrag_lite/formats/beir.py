"""BEIR datasets: a local folder or a hub dataset with ``corpus`` / ``queries`` configs and a
``{name}-qrels`` companion (as BEIR publishes them on the hub).

Folder layout: ``corpus.jsonl(.gz)``; ``queries_{split}.jsonl``, ``queries-{split}.jsonl`` or
``queries.jsonl``; qrels ``qrels/{split}.tsv``, ``{split}.tsv`` or ``qrels_{split}.tsv`` (each also
``.gz``). Queries are the judged ones; qrels with a score > 0 are positives, 0 negatives."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

from rankrag_lite.data.schemas import Passage, QAItem, RankingItem
from rankrag_lite.errors import RankragError
from rankrag_lite.formats.corpus import corpus_docs, iter_corpus_file, query_pair, read_queries
from rankrag_lite.formats.fields import Records, need
from rankrag_lite.formats.hub import hub_records
from rankrag_lite.formats.trec import read_qrels


def _first(folder: Path, stems: Iterable[str]) -> Path | None:
    for stem in stems:
        for ext in ("", ".gz"):
            p = folder / f"{stem}{ext}"
            if p.exists():
                return p
    return None


def corpus_file(folder: Path) -> Path:
    path = _first(folder, ["corpus.jsonl"])
    if path is None:
        raise RankragError(f"{folder}: BEIR folder without corpus.jsonl(.gz)")
    return path


def queries_file(folder: Path, split: str) -> Path:
    path = _first(folder, [f"queries_{split}.jsonl", f"queries-{split}.jsonl", "queries.jsonl"])
    if path is None:
        raise RankragError(f"{folder}: BEIR folder without queries.jsonl or queries_{split}.jsonl")
    return path


def qrels_file(folder: Path, split: str) -> Path:
    path = _first(folder, [f"qrels/{split}.tsv", f"{split}.tsv", f"qrels_{split}.tsv"])
    if path is None:
        raise RankragError(f"{folder}: BEIR folder without qrels for split {split!r} "
                           f"(qrels/{split}.tsv or {split}.tsv)")
    return path


def corpus(recs: Records) -> list[dict]:
    """All documents ``{id, title, text}``."""
    if recs.hub:
        return list(corpus_docs(hub_records(recs.where, split="corpus", config="corpus"), f"{recs.where} (corpus)"))
    return list(iter_corpus_file(corpus_file(recs.folder)))


def queries_qrels(recs: Records) -> tuple[dict[str, str], dict[str, dict[str, int]]]:
    """``({qid: query}, {qid: {doc id: score}})`` of the split (default ``test``)."""
    split = recs.split or "test"
    if not recs.hub:
        queries = dict(read_queries(queries_file(recs.folder, split)))
        return queries, read_qrels(qrels_file(recs.folder, split))
    qwhere, rel_where = f"{recs.where} (queries)", f"{recs.where}-qrels ({split})"
    queries = dict(query_pair(r, qwhere, i) for i, r in enumerate(hub_records(recs.where, split="queries",
                                                                               config="queries")))
    qrels: dict[str, dict[str, int]] = {}
    for i, r in enumerate(hub_records(f"{recs.where}-qrels", split=split)):
        qid, did = str(need(r, "query-id", rel_where, i)), str(need(r, "corpus-id", rel_where, i))
        qrels.setdefault(qid, {})[did] = int(r.get("score", 1))
    return queries, qrels


def read_qa(recs: Records) -> Iterator[QAItem]:
    """The judged queries (no answers)."""
    queries, qrels = queries_qrels(recs)
    for qid, q in queries.items():
        if qid in qrels:
            yield QAItem(qid=qid, question=q, answers=[])


def read_ranking(recs: Records) -> Iterator[RankingItem]:
    """Judged queries with at least one positive in the corpus."""
    docs = {d["id"]: d for d in corpus(recs)}
    if not docs:
        raise RankragError(f"{recs.where}: empty corpus")
    queries, qrels = queries_qrels(recs)
    for qid, q in queries.items():
        rels = qrels.get(qid)
        if not rels:
            continue
        pos = [Passage(text=docs[d]["text"], title=docs[d]["title"], pid=d, is_gold=True)
               for d, s in rels.items() if s > 0 and d in docs]
        neg = [Passage(text=docs[d]["text"], title=docs[d]["title"], pid=d, is_gold=False)
               for d, s in rels.items() if s <= 0 and d in docs]
        if pos:
            yield RankingItem(qid=qid, query=q, positives=pos, negatives=neg, source=recs.name)


def read_corpus(recs: Records) -> Iterator[dict]:
    yield from corpus(recs)
