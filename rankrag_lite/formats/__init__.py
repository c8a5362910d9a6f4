"""Every on-disk (and hub) data format the kit reads, one reader per format family.

============================  ==========================================  ===============================
family (module)               formats                                     read by
============================  ==========================================  ===============================
:mod:`.qa`                    ``nq-open``, ``ctxs``, ``squad``,           ``load_qa`` / ``load_ranking`` /
                              ``dpr-tsv``, ``topics``                     ``load_corpus`` (data.sources)
:mod:`.multihop`              ``hotpotqa``, ``musique``, ``passages``     the same
:mod:`.ranking`               ``qpn``, ``msmarco``, ``climate-fever``,    ``load_ranking`` (and queries
                              ``rankllm`` (a run judged by qrels)         for ``load_qa``)
:mod:`.chat`                  ``chat``, ``dolly``, ``chatqa``             ``load_chat`` (ChatQA: also QA)
:mod:`.corpus`                corpus records and files, HotpotQA          ``load_corpus``, ``index``,
                              ``{title: [sentences]}`` JSON, queries      ``retrieve``, TREC-run input
                              files (TSV / JSONL)
:mod:`.beir`                  BEIR folders and hub datasets               sources and ``evaluate``
:mod:`.trec`                  TREC qrels, TREC runs, candidates JSONL,    ``rerank``, ``answer``,
                              rank_llm JSON                               ``evaluate``, ``retrieve``
============================  ==========================================  ===============================

:mod:`.registry` maps each source format name to its :class:`~.registry.Reader` (its record sniffer
and its QA / ranking / chat / corpus readers); :mod:`.sniff` holds every sniffer (file layout, first
record, the evaluate and rerank input formats). :mod:`.fields` has the field readers the families
share. The format tables users see are in :mod:`rankrag_lite.data.sources` and
:mod:`rankrag_lite.evaluation.datasets`.
"""

from rankrag_lite.formats.fields import Records
from rankrag_lite.formats.registry import (CHAT_FORMATS, CORPUS_FORMATS, FORMATS, QA_FORMATS, RANKING_FORMATS,
                                           READERS, Reader, holding, reader, sniff_record)

__all__ = ["CHAT_FORMATS", "CORPUS_FORMATS", "FORMATS", "QA_FORMATS", "RANKING_FORMATS", "READERS", "Reader",
           "Records", "holding", "reader", "sniff_record"]
