"""The blend's output folder: ``{part}.jsonl``, ``blend.jsonl`` and ``manifest.json`` (counts per
part and source, the recipe, seed, excluded questions, sha256 of every file), written atomically."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

from rankrag_lite.data.blend.config import PARTS, BlendConfig
from rankrag_lite.io import atomic_dir, dumps, sha256_file, write_json


def make_manifest(*, name: str | None, cfg: BlendConfig, data_root: Any, exclude_files: list[str],
                  banned: int, removed: dict[str, int], parts: dict[str, list[dict]], entries: list[dict],
                  blend_count: int) -> dict[str, Any]:
    """The manifest, but for ``files`` (the sha256 of each file, filled in by :func:`write_blend`).

    ``removed``: excluded questions removed per source; ``entries``: the mix's entries with their
    ``examples``, ``used`` and ``skipped`` counts."""
    total_w = sum(e["weight"] for e in entries)
    manifest: dict[str, Any] = {
        "name": name,
        "seed": cfg.seed,
        "data_root": str(data_root) if data_root is not None else None,
        "recipe": {"blend": dataclasses.asdict(cfg)},
        "exclude": {"files": exclude_files, "questions": banned, "removed": sum(removed.values()),
                    "removed_by_source": {n: r for n, r in removed.items() if r}},
        "parts": {},
        "blend": {"file": "blend.jsonl", "count": blend_count, "entries": []},
        "files": {},
    }
    for part in PARTS:
        if part not in parts:
            continue
        by_source: dict[str, int] = {}
        for ex in parts[part]:
            by_source[ex["source"]] = by_source.get(ex["source"], 0) + 1
        manifest["parts"][part] = {"file": f"{part}.jsonl", "count": len(parts[part]), "by_source": by_source}
    for e in entries:
        manifest["blend"]["entries"].append({
            "part": e["part"], "source": e["source"], "weight": e["weight"],
            "share": round(e["weight"] / total_w, 6), "available": len(e["examples"]), "used": e["used"],
            "repeated": e["used"] > len(e["examples"]), "skipped_questions": e["skipped"]})
    return manifest


def write_blend(out_dir: str | os.PathLike, parts: dict[str, list[dict]], blend: list[dict],
                manifest: dict[str, Any]) -> None:
    """Write the folder (built in a temporary sibling, swapped in on success); fills ``manifest["files"]``."""
    with atomic_dir(out_dir) as tmp:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o777 & ~umask)  # mkdtemp makes 0700; a finished blend is an ordinary folder
        for part in PARTS:
            if part in parts:
                write_lines(tmp / f"{part}.jsonl", parts[part])
        write_lines(tmp / "blend.jsonl", blend)
        for f in sorted(p.name for p in tmp.iterdir()):
            manifest["files"][f] = sha256_file(tmp / f)
        write_json(tmp / "manifest.json", manifest)


def write_lines(path: Path, records: list[dict]) -> None:
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        for r in records:
            f.write(dumps(r) + "\n")
