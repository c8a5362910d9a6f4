"""Telling formats apart: every sniffer of the kit, from a file's name, layout and first record.

- :func:`read_local`: the records of a local file and the format its layout already tells
  (``.tsv``/``.txt``/``.csv``: JSONL despite the name, ``dpr-tsv`` or ``topics``; ``.json``: SQuAD
  ``data``, a ``{title: [sentences]}`` corpus or a list; ``.jsonl``; else JSONL, then JSON);
  :func:`sniff_path` adds the record sniffer (:func:`~rankrag_lite.formats.registry.sniff_record`).
- :func:`sniff_eval`: the ``rankrag-lite evaluate`` format of a file or folder.
- :func:`sniff_candidates`: the ``rerank`` / ``answer`` input format (``candidates``, ``rankllm``, ``trec``).
- (a queries file in ``qid<TAB>query`` form rather than JSONL is told by the queries reader itself:
  :func:`rankrag_lite.formats.corpus.is_tsv`; the readers below this module import nothing from it.)
- :func:`is_candidates_file`: a ranking given to ``evaluate --run`` as candidates JSONL (else a TREC run).
"""

from __future__ import annotations

import os
from pathlib import Path

from rankrag_lite.errors import RankragError
from rankrag_lite.formats.corpus import base_name, first_line, title_sentences_docs, tsv_rows
from rankrag_lite.formats.registry import SOURCE_FORMATS, sniff_record, stage_format, stage_formats
from rankrag_lite.formats.trec import PID_KEYS
from rankrag_lite.io import iter_jsonl, iter_jsonl_lines, open_text, read_json


#: what ``rankrag-lite rerank`` / ``answer`` ``--input-format`` take (the registry's ``rerank`` formats)
INPUT_FORMATS = ("auto",) + stage_formats("rerank")


def read_local(path: Path) -> tuple[str | None, list[dict] | dict]:
    """(format the layout tells or None, raw records) of a local file."""
    if not path.exists():
        raise RankragError(f"file not found: {path}")
    base = base_name(path)
    if base.endswith((".tsv", ".txt", ".csv")):
        first = first_line(path)
        if first.startswith("{"):
            return None, list(iter_jsonl(path))
        cols = first.split("\t")
        if len(cols) >= 2 and cols[1].lstrip().lstrip('"').startswith("["):
            return "dpr-tsv", [{"_row": r} for _, r in tsv_rows(path, quoted=True)]
        return "topics", [{"_row": r} for _, r in tsv_rows(path)]
    if base.endswith(".jsonl"):
        return None, list(iter_jsonl(path))
    if base.endswith(".json"):
        data = read_json(path)
        if isinstance(data, dict) and "data" in data and isinstance(data["data"], list):
            return "squad", data
        if isinstance(data, dict) and data and all(isinstance(v, list) for v in list(data.values())[:5]):
            return "corpus", title_sentences_docs(data)
        if isinstance(data, list):
            return None, data
        raise RankragError(f"{path}: unrecognised JSON layout (expected a list of records or SQuAD 'data')")
    try:  # unknown extension: JSONL, then JSON
        return None, list(iter_jsonl(path))
    except RankragError:
        data = read_json(path)
        return None, data if isinstance(data, list) else [data]


def sniff_path(path: Path, fmt: str | None = None) -> tuple[str, list[dict] | dict]:
    """(format, raw records) of a local file: ``fmt`` if given, else what its layout or first record
    tells; a file whose format cannot be told is an error."""
    hint, records = read_local(path)
    fmt = fmt or hint
    if fmt is None:
        fmt = sniff_record(records[0]) if records else None
        if fmt is None:
            if not records:
                raise RankragError(f"{path}: no records")
            raise RankragError(f"{path}: cannot tell the format from the fields {sorted(records[0])[:8]}; "
                               f"pass a format (one of {list(SOURCE_FORMATS)})")
    return fmt, records


def _is_candidates_record(rec: dict) -> bool:
    """Passages that carry ids or scores: a candidate list, not a distractor set."""
    ps = rec.get("passages")
    return bool(ps) and isinstance(ps[0], dict) and ("pid" in ps[0] or "id" in ps[0] or "score" in ps[0])


def sniff_eval(source: str | os.PathLike) -> str:
    """The evaluation format (see :mod:`rankrag_lite.evaluation.datasets`) from a folder or the first
    record of a JSON list / JSONL file: a folder is ``beir``; a JSON list of rank_llm hits ``trec-dl``;
    a distractor or retriever record its own format; JSONL passages with ids or scores ``candidates``;
    anything else ``qa`` (questions for a BM25 first stage)."""
    path = Path(source)
    if path.is_dir():
        return "beir"
    base = base_name(path)
    if base.endswith(".json"):
        data = read_json(path)
        first = data[0] if isinstance(data, list) and data else None
    elif base.endswith(".jsonl"):
        first = next(iter(iter_jsonl(path)), None)
        if first is None:
            raise RankragError(f"{path}: no records (the file is empty)")
    else:
        return "qa"
    if not isinstance(first, dict):
        return "qa"
    jsonl = not base.endswith(".json")
    if "hits" in first and not jsonl:  # a rank_llm run is one JSON list
        return "trec-dl"
    fmt = sniff_record(first)
    if fmt in ("hotpotqa", "musique", "ctxs"):
        return fmt
    if isinstance(first.get("passages"), list):  # candidate files are JSONL
        return "candidates" if jsonl and _is_candidates_record(first) else "passages"
    return "qa"


def check_candidates_file(path: Path) -> None:
    """A candidates file names its passages; a first record whose passages have no ids is another
    format's file (a distractor set), an error that names the format to use."""
    for lineno, rec in iter_jsonl_lines(path):
        ps = rec.get("passages", rec.get("ctxs")) if isinstance(rec, dict) else None
        if isinstance(ps, list) and ps and all(isinstance(p, dict) for p in ps) \
                and not any(k in p for p in ps for k in PID_KEYS):
            hint = "ctxs" if "ctxs" in rec else "passages"
            raise RankragError(f"{path}:{lineno}: passages without ids ({'/'.join(PID_KEYS)}), so this is not "
                               f"a candidates file; a distractor set is --format {hint}")
        return


def sniff_candidates(path: str | os.PathLike, fmt: str = "auto", corpus=None) -> str:
    """The ``rerank`` input format: ``fmt`` unless ``auto``; with a ``corpus`` a TREC run; by name
    ``.json`` rank_llm, else candidates JSONL (a run-like name without a corpus is an error)."""
    fmt = stage_format("rerank", fmt)
    if fmt not in INPUT_FORMATS:
        raise RankragError(f"unknown input format {fmt!r}; choose one of {list(INPUT_FORMATS)}")
    if fmt != "auto":
        return fmt
    if corpus is not None:
        return "trec"
    base = base_name(Path(path))
    if base.endswith(".json"):
        return "rankllm"
    if base.endswith((".trec", ".run", ".txt", ".tsv")):
        raise RankragError(f"{path} looks like a TREC run: pass --corpus and --queries with it")
    return "candidates"


def is_candidates_file(path: str | os.PathLike) -> bool:
    """A ranking file for ``evaluate --run``: ``.jsonl`` is candidates JSONL, anything else a TREC run."""
    return base_name(Path(path)).endswith(".jsonl")
