"""Reading what ``rankrag-lite rerank`` takes and writing what it gives.

Inputs (``fmt``; ``auto`` tells them apart by extension and by ``corpus``):

- ``candidates``: JSONL ``{qid, question, passages: [{pid, title, text, ...}]}``, best first (what
  ``rankrag-lite retrieve`` writes; ``id``/``_id`` and ``query`` are accepted for ``qid``/``question``,
  ``content``/``contents`` for ``text``). Streams record by record.
- ``rankllm``: rank_llm retrieve results ``[{query, hits: [{content, qid, docid, rank, score}]}]``
  (the DL19 ``bm25_top100.json``).
- ``trec``: a TREC run ``qid Q0 pid rank score tag`` + ``corpus`` (JSONL ``{id|_id, title, text}`` or a
  BEIR folder) + ``queries`` (TSV ``qid<TAB>query`` or JSONL). The run is read one query at a time
  (it must be grouped by query, as TREC runs are); only the passages it names are kept from the corpus.

The readers and writers live in :mod:`rankrag_lite.formats.trec` (qrels, runs and candidate lists in
one module), the input sniffer in :mod:`rankrag_lite.formats.sniff` and the reader of any input
format in :mod:`rankrag_lite.formats.candidates`; this module is their home for the ranking stage's
callers.
"""

from __future__ import annotations

from rankrag_lite.formats.sniff import sniff_candidates as detect_format
from rankrag_lite.formats.candidates import iter_candidates
from rankrag_lite.formats.trec import INPUT_FORMATS, normalize_record, read_qrels, read_trec_run, trec_line

__all__ = ["INPUT_FORMATS", "detect_format", "iter_candidates", "normalize_record", "read_qrels", "read_trec_run",
           "trec_line"]
