"""``rag``: retrieve (a saved BM25 index) -> rerank (P("True")) -> answer (top-k), one model loaded once.

Writes into ``out_dir`` (built in a temporary folder and moved into place only when every stage has
finished): ``candidates.jsonl`` + ``bm25.trec`` (retrieval top-n), ``reranked.jsonl`` +
``reranked.trec``, ``answers.jsonl``, and ``summary.json`` (counts, settings, answer metrics where the
questions have answers).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from rankrag_lite.errors import RankragError
from rankrag_lite.io import atomic_dir, dumps, write_json
from rankrag_lite.progress import log


def read_questions(source: str | os.PathLike, fmt: str | None = None, limit: int | None = None) -> list[dict]:
    """``[{qid, question, answers}]`` from any QA source ``load_qa`` reads (TSV topics included)."""
    from rankrag_lite.data.sources import load_qa

    items = load_qa(str(source), fmt=fmt, limit=limit)
    if not items:
        raise RankragError(f"{source}: no questions")
    seen, out = set(), []
    for it in items:
        qid = it.qid if it.qid not in seen else f"{it.qid}-{len(out)}"
        seen.add(qid)
        out.append({"qid": qid, "question": it.question, "answers": list(it.answers)})
    return out


def rag(index_dir: str | os.PathLike, model_name: str, questions: str | os.PathLike, out_dir: str | os.PathLike,
        *, n: int = 100, k: int = 5, fmt: str | None = None, limit: int | None = None, batch_size: int = 16,
        score: str = "true-false", max_new_tokens: int = 32, load_in_4bit: bool = False,
        loaded=None, progress: bool = True) -> dict:
    """Run the three stages; returns the summary written to ``summary.json``.

    ``loaded``: an already loaded :class:`~rankrag_lite.RankRAG` (or ``(model, tokenizer)``) to use
    instead of loading ``model_name``; ``batch_size`` and ``score`` apply to it.
    """
    from rankrag_lite.generation import answer_file
    from rankrag_lite.model import RankRAG
    from rankrag_lite.ranking.rerank import rerank_file
    from rankrag_lite.ranking.scorer import check_method
    from rankrag_lite.retrieval import load_index

    check_method(score)
    if n < 1 or k < 1:
        raise RankragError("--n and --k must be at least 1")
    if k > n:
        raise RankragError(f"--k {k} is larger than the {n} retrieved candidates (--n)")
    qs = read_questions(questions, fmt, limit)
    index = load_index(index_dir)
    if loaded is None:
        log(f"loading model {model_name}")
        model = RankRAG.from_pretrained(model_name, load_in_4bit=load_in_4bit, batch_size=batch_size, score=score)
    else:
        model = RankRAG.wrap(loaded, batch_size=batch_size, score=score)
    scorer = model.scorer
    answerer = model.answerer(max_new_tokens)
    times: dict[str, float] = {}
    with atomic_dir(out_dir) as tmp:
        tmp = Path(tmp)
        t0 = time.perf_counter()
        no_hits = []
        with open(tmp / "candidates.jsonl", "w", encoding="utf-8") as f, \
                open(tmp / "bm25.trec", "w", encoding="utf-8") as frun:
            for start in range(0, len(qs), 64):
                batch = qs[start:start + 64]
                for q, hits in zip(batch, index.search([q["question"] for q in batch], k=n)):
                    if not hits:
                        no_hits.append(q["qid"])
                        continue
                    rec = {**q, "passages": [h.to_dict() for h in hits]}
                    f.write(dumps(rec) + "\n")
                    for rank, h in enumerate(hits, start=1):
                        frun.write(f"{q['qid']} Q0 {h.pid} {rank} {h.score:.6f} bm25-{index.backend}\n")
        if len(no_hits) == len(qs):
            raise RankragError("retrieval found nothing for any question")
        times["retrieve_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        rr = rerank_file(scorer, tmp / "candidates.jsonl", tmp / "reranked.jsonl",
                         run_out=tmp / "reranked.trec", progress=progress,
                         meta={"model": str(model_name), "score": score})
        times["rerank_s"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        ans = answer_file(answerer, tmp / "reranked.jsonl", tmp / "answers.jsonl", k=k, progress=progress,
                          strict=False)
        times["answer_s"] = time.perf_counter() - t0
        summary = {
            "index": str(index_dir), "model": str(model_name), "questions": len(qs), "n": n, "k": k,
            "score": score, "max_new_tokens": max_new_tokens, "no_hits": no_hits,
            "reranked_passages": rr["passages"], "answers": ans, "times": times,
        }
        write_json(tmp / "summary.json", summary)
    return summary
