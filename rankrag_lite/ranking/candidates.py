"""Reading what ``rankrag-lite rerank`` takes and writing what it gives.

Inputs (``fmt``): ``candidates`` JSONL (streams record by record), rank_llm JSON (``rankllm``, also
called ``trec-dl``) or a ``trec`` run + corpus + queries (read one query at a time; only the passages
it names are kept from the corpus); ``auto`` tells them apart by extension and by ``corpus``. Each is
described in ``docs/formats.md``, generated from :data:`rankrag_lite.formats.registry.FORMATS`.

The readers and writers live in :mod:`rankrag_lite.formats.trec` (qrels, runs and candidate lists in
one module), the input sniffer in :mod:`rankrag_lite.formats.sniff` and the reader of any input
format in :mod:`rankrag_lite.formats.candidates`; this module is their home for the ranking stage's
callers.
"""

from __future__ import annotations

from rankrag_lite.formats.sniff import INPUT_FORMATS
from rankrag_lite.formats.sniff import sniff_candidates as detect_format
from rankrag_lite.formats.candidates import iter_candidates
from rankrag_lite.formats.trec import normalize_record, read_qrels, read_trec_run, trec_line

__all__ = ["INPUT_FORMATS", "detect_format", "iter_candidates", "normalize_record", "read_qrels", "read_trec_run",
           "trec_line"]
