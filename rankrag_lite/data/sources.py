"""Source loaders: a local file (or BEIR folder) or a Hugging Face hub dataset name -> schema records.

Public API (every later stage calls these):

- :func:`load_qa` -> ``list[QAItem]`` (question, answers, optional passages with gold flags, history)
- :func:`load_ranking` -> ``list[RankingItem]`` (query, positive and negative passages)
- :func:`load_chat` -> ``list[ChatItem]`` (SFT chat ``messages``)
- :func:`load_corpus` -> ``list[dict]`` of ``{id, title, text}``
- :func:`load_questions` -> the question strings of any QA or ranking source (for ``--exclude``)

``source`` is a local path when it exists on disk (or looks like one: it has a known file extension),
otherwise a hub dataset name, read through ``datasets.load_dataset(name, config, split=split)``.
Hub records and local records go through the same record converters.

Formats (``fmt``; sniffed from the extension and the first record when not given): the source formats
of :data:`rankrag_lite.formats.registry.FORMATS`, listed with what each holds in ``docs/formats.md``
(generated from the registry; any of a format's names is accepted, e.g. ``trec-dl`` for ``rankllm``).

Each format is read in one place, its family's module in :mod:`rankrag_lite.formats` (the registry
there says which formats hold QA, ranking, chat and corpus records); this module opens the source
(local file, BEIR folder or hub rows), sniffs its format and hands the records to the reader.

Bad input (a missing file, a record without the fields a format needs, an unknown format) raises
:class:`~rankrag_lite.errors.RankragError` with one line naming the file and the field.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterable
from pathlib import Path

from rankrag_lite.data.schemas import ChatItem, QAItem, RankingItem
from rankrag_lite.errors import RankragError
from rankrag_lite.formats import (CHAT_FORMATS, CORPUS_FORMATS, FORMATS, QA_FORMATS, RANKING_FORMATS, READERS,
                                  SOURCE_FORMATS, Records, reader, sniff_record, stage_format)
from rankrag_lite.formats import hub
from rankrag_lite.formats.sniff import sniff_path

# --------------------------------------------------------------------------------------------------
# reading raw records (local files or hub: rankrag_lite.formats.hub)
# --------------------------------------------------------------------------------------------------


def _open(source: str, fmt: str | None, split: str | None, config: str | None = None, data_files=None,
          stream: bool = False) -> Records:
    """Raw records of a source and their format (given, or sniffed by :mod:`rankrag_lite.formats.sniff`).
    For a hub source, ``data_files`` goes to ``load_dataset`` and ``stream`` reads rows lazily (a loader
    with a limit stops reading once it has enough)."""
    fmt = stage_format("sources", fmt) if fmt is not None else None
    if fmt is not None and fmt not in SOURCE_FORMATS:
        raise RankragError(f"unknown format {fmt!r} for {source}; choose one of {list(SOURCE_FORMATS)}")
    source = str(source)
    if hub.is_local(source):
        path = Path(os.path.expanduser(source))
        if not path.exists():
            raise RankragError(f"file not found: {path}")
        if path.is_dir():
            if fmt not in (None, "beir"):
                raise RankragError(f"{path}: a folder is read as a BEIR dataset, not {fmt!r}")
            return Records(str(path), "beir", None, folder=path, split=split)
        if data_files:
            raise RankragError(f"{path}: data_files is for hub datasets; give the file itself as the path")
        fmt, records = sniff_path(path, fmt)
        return Records(str(path), fmt, records, split=split)
    # hub
    if fmt == "beir":
        return Records(source, "beir", None, split=split, config=config, hub=True)
    records = hub.hub_rows(source, split=split, config=config, data_files=data_files, streaming=stream)
    if fmt is None:
        it = iter(records)
        first = next(it, None)
        fmt = sniff_record(first) if first is not None else None
        if fmt is None:
            if first is None:
                raise RankragError(f"{hub.hub_label(source, config, split, data_files)}: no rows")
            raise RankragError(f"{hub.hub_label(source, config, split, data_files)}: cannot tell the format of "
                               f"its rows (fields {sorted(first)[:8]}); pass a format")
        records = itertools.chain([first], it)
    return Records(source, fmt, records, split=split, config=config, hub=True)


def _take(items: Iterable, limit: int | None) -> list:
    """The first ``limit`` items (all without a limit), reading no further than needed."""
    if limit is not None and limit < 0:
        raise RankragError(f"limit must be >= 0, got {limit}")
    return list(items if limit is None else itertools.islice(items, limit))


# --------------------------------------------------------------------------------------------------
# public loaders (the format readers live in rankrag_lite.formats, one module per family)
# --------------------------------------------------------------------------------------------------


def load_qa(source: str, fmt: str | None = None, split: str | None = None, limit: int | None = None,
            config: str | None = None, data_files=None) -> list[QAItem]:
    """Questions with answers (and passages with gold flags where the format has them).

    ``data_files``: files inside a hub dataset repository (``load_dataset(..., data_files=...)``).
    With a ``limit`` a hub source is streamed and read only until ``limit`` items are found."""
    raw = _open(source, fmt, split, config, data_files, stream=limit is not None)
    read = reader(raw.fmt, "qa", raw.where)
    out = _take(read(raw), limit)
    for item in out:
        item.source = item.source or raw.name
    return out


def load_ranking(source: str, fmt: str | None = None, split: str | None = None, limit: int | None = None,
                 config: str | None = None, qrels: str | None = None, min_grade: int = 1,
                 data_files=None) -> list[RankingItem]:
    """Queries with positive and negative passages.

    QA formats with gold flags give gold passages as positives and the record's other passages as
    negatives (for the blend's BM25 hard negatives, see :mod:`rankrag_lite.data.blend`). A retrieval
    run (``rankllm``) needs ``qrels`` (a TREC qrels file): its hits judged ``>= min_grade`` are
    positives, its hits judged 0 negatives (real hard negatives), unjudged hits are not used.
    MS MARCO rows without a selected passage are skipped (they do not count toward ``limit``); with a
    ``limit`` a hub source is streamed and read only until ``limit`` items are found.
    """
    raw = _open(source, fmt, split, config, data_files, stream=limit is not None)
    read = reader(raw.fmt, "ranking", raw.where)
    judged = READERS[raw.fmt].judged
    if judged != (qrels is not None):
        raise RankragError(f"{raw.where}: qrels go with a retrieval run (format 'rankllm'), and a run needs them"
                           if judged else f"{raw.where}: qrels are only read for a retrieval run "
                           f"(format 'rankllm'), not {raw.fmt!r}")
    return _take(read(raw, qrels, min_grade) if judged else read(raw), limit)


def load_chat(source: str, fmt: str | None = None, split: str | None = None, limit: int | None = None,
              config: str | None = None, data_files=None) -> list[ChatItem]:
    """SFT conversations as chat ``messages`` (roles system / user / assistant).

    ChatQA rows (``chatqa``: ``{messages, answers[, document]}``, e.g. the ``sft`` config) whose messages
    end with a user turn get ``answers[0]`` as the final assistant turn."""
    raw = _open(source, fmt, split, config, data_files, stream=limit is not None)
    return _take(reader(raw.fmt, "chat", raw.where)(raw), limit)


def load_corpus(source: str, fmt: str | None = None, limit: int | None = None,
                config: str | None = None, split: str | None = None, data_files=None) -> list[dict]:
    """Passages ``{id, title, text}``: a corpus file or BEIR folder, or the passages of a QA/ranking file
    (deduplicated by title and text). With a ``limit`` a hub source is streamed and read only until
    ``limit`` passages are found."""
    raw = _open(source, fmt, split, config, data_files, stream=limit is not None)
    docs = _take(reader(raw.fmt, "corpus", raw.where)(raw), limit)
    if not docs:
        raise RankragError(f"{raw.where}: empty corpus")
    return docs


def load_questions(source: str, fmt: str | None = None, split: str | None = None,
                   config: str | None = None, data_files=None) -> list[str]:
    """The question (query, claim) strings of any QA or ranking source: what ``--exclude`` matches on."""
    raw = _open(source, fmt, split, config, data_files)
    if raw.fmt in QA_FORMATS:
        return [item.question for item in reader(raw.fmt, "qa", raw.where)(raw)]
    if raw.fmt in RANKING_FORMATS:
        return [item.query for item in reader(raw.fmt, "ranking", raw.where)(raw)]
    raise RankragError(f"{raw.where}: format {raw.fmt!r} holds no questions")

__all__ = [
    "FORMATS", "SOURCE_FORMATS", "QA_FORMATS", "RANKING_FORMATS", "CHAT_FORMATS", "CORPUS_FORMATS", "load_qa", "load_ranking",
    "load_chat", "load_corpus", "load_questions", "sniff_record",
]
