"""What the kit reads back from a folder written by ``rankrag-lite export`` (:mod:`rankrag_lite.export`).

An exported folder's tokenizer carries the (query, document) pair template that sentence-transformers
and vLLM render; ``rankrag_export.json`` keeps the model's own chat template, which the kit's loader
puts back so the kit renders prompts as training did. Kept apart from the exporter so that model
loading, at the bottom of the kit, imports nothing above it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from rankrag_lite.errors import RankragError

METADATA_FILE = "rankrag_export.json"
KIND = "rankrag-lite export"


def read_metadata(folder: str | os.PathLike) -> dict | None:
    """``rankrag_export.json`` of an exported folder, ``None`` for any other folder."""
    path = Path(folder) / METADATA_FILE
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as e:
        raise RankragError(f"{path}: bad JSON ({e})") from None
    if not isinstance(data, dict) or data.get("kind") != KIND:
        raise RankragError(f"{path}: not a rankrag-lite export file (no 'kind': '{KIND}')")
    return data


def restore_source_template(tokenizer, folder: str | os.PathLike) -> None:
    """In an exported folder the tokenizer's chat template is the pair template; give the kit back the
    model's own (or none, for the plain ChatQA format), so it renders prompts as training did."""
    meta = read_metadata(folder)
    if meta is not None:
        tokenizer.chat_template = meta.get("source_chat_template")
