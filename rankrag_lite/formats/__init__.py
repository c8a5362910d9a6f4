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
:mod:`.candidates`            any ranking input (candidates, rankllm,     ``rerank``, ``answer``,
                              a TREC run + corpus + queries)              ``evaluate``
============================  ==========================================  ===============================

:mod:`.registry` owns the format vocabulary: :data:`~.registry.FORMATS` names every format the kit
takes (aliases included: ``trec-dl`` is ``rankllm``), what it holds and which stage reads it (the
source loaders, ``rerank`` / ``answer`` inputs, ``evaluate``), and maps each source format to its
:class:`~.registry.Reader` (record sniffer and QA / ranking / chat / corpus readers). ``docs/formats.md``
is generated from it (:func:`~.registry.formats_doc`). :mod:`.sniff` holds the sniffers that need the
registry (file layout, first record, the evaluate and rerank input formats); :mod:`.candidates` reads
a ranking input in any of its formats; :mod:`.hub` opens hub datasets; :mod:`.fields` has the field
readers the families share.

Floors (no import circles, checked by tests/test_imports.py): ``fields``, ``hub``, ``corpus`` and
``trec`` import no other reader; the families import those; ``registry`` imports the families;
``sniff`` imports the registry; ``candidates`` is on top. Nothing here imports ``data.sources``,
``retrieval`` or the stages above (they import this package).
"""

from rankrag_lite.formats.fields import Records
from rankrag_lite.formats.registry import (CHAT_FORMATS, CORPUS_FORMATS, FORMATS, QA_FORMATS, RANKING_FORMATS,
                                           READERS, SOURCE_FORMATS, Format, Reader, holding, reader, sniff_record,
                                           stage_format, stage_formats)

__all__ = ["CHAT_FORMATS", "CORPUS_FORMATS", "FORMATS", "QA_FORMATS", "RANKING_FORMATS", "READERS", "SOURCE_FORMATS",
           "Format", "Reader", "Records", "holding", "reader", "sniff_record", "stage_format", "stage_formats"]
