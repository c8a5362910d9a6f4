"""The entry points: :func:`build_blend` (``build-blend``) and :func:`check_blend` (``--check``)."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

from rankrag_lite.recipes import load_recipe
from rankrag_lite.data.blend.config import parse_blend
from rankrag_lite.data.blend.manifest import make_manifest, write_blend
from rankrag_lite.data.blend.mix import mix
from rankrag_lite.data.blend.parts import build_part
from rankrag_lite.data.blend.source import LoadedSource, exclusion_set
from rankrag_lite.errors import RankragError
from rankrag_lite.progress import log, track


def _data_root(data_root: str | os.PathLike | None) -> Path | None:
    root = Path(os.path.expanduser(str(data_root))) if data_root is not None else None
    if root is not None and not root.is_dir():
        raise RankragError(f"data root not found: {root}")
    return root


def build_blend(recipe: dict | str | os.PathLike, out_dir: str | os.PathLike, data_root: str | os.PathLike | None = None,
                seed: int | None = None, exclude: list[str] | None = None, size: int | None = None,
                labels: str | os.PathLike | None = None) -> dict:
    """Build the blend described by ``recipe`` (a recipe dict or YAML path) into ``out_dir``.

    ``data_root``: folder the recipe's paths are relative to; ``seed`` and ``size`` (examples in
    blend.jsonl) override the recipe's; ``exclude``: more evaluation files (added to the recipe's
    ``exclude``); ``labels``: the judged pairs file, instead of the recipe's ``blend.judge.labels``
    (which then must exist). Returns the manifest.
    Nothing is written unless every part has examples.
    """
    if not isinstance(recipe, dict):
        recipe = load_recipe(recipe)
    cfg = parse_blend(recipe)
    if seed is not None:
        cfg.seed = int(seed)
    if size is not None:
        if size < 1:
            raise RankragError(f"blend size must be at least 1, got {size}")
        cfg.size = int(size)
    if labels is not None:
        if cfg.judge is None:
            raise RankragError("--labels needs a blend.judge section in the recipe (its thresholds)")
        cfg.judge.labels = str(labels)
    root = _data_root(data_root)
    cli_exclude = list(exclude or [])

    # exclusion sets: recipe entries relative to the data root, CLI entries as given (or under it)
    banned = exclusion_set(cfg.exclude, root) | exclusion_set(cli_exclude, root)

    needs: dict[str, set[str]] = {}
    for m in cfg.mix:
        needs.setdefault(m.source, set()).add(m.part)
    loaded: dict[str, LoadedSource] = {}
    for name in track(list(needs), "Loading sources"):
        src = LoadedSource(name, cfg.sources[name], cfg, root, needs[name])
        src.exclude(banned)
        loaded[name] = src

    labels = None
    if cfg.judge is not None:
        from rankrag_lite.data.labels import JudgedLabels

        j = cfg.judge
        labels = JudgedLabels(j.labels, j.drop_negatives_at_or_above, j.drop_positives_below, j.unjudged,
                              j.apply_to)
    parts: dict[str, list[dict]] = {}
    entries: list[dict[str, Any]] = []
    for m in cfg.mix:
        exs, skipped = build_part(m.part, loaded[m.source], cfg, labels)
        if not exs:
            judged = " (blend.judge dropped the rest)" if labels is not None and labels.dropped(m.part, m.source) else ""
            raise RankragError(f"part {m.part!r} from source {m.source!r} has no examples{judged} "
                               f"({skipped} questions skipped: no gold/answer passage or too few negatives)")
        parts.setdefault(m.part, []).extend(exs)
        entries.append({"part": m.part, "source": m.source, "weight": m.weight, "examples": exs,
                        "skipped": skipped})

    blend = mix(entries, cfg.size, cfg.seed)
    if labels is not None and labels.after_mix:
        blend = labels.remove_rejected(blend)
        if not blend:
            raise RankragError("blend.judge (apply_to: blend) removed every drawn row")
    manifest = make_manifest(name=recipe.get("name"), cfg=cfg, data_root=data_root,
                             exclude_files=list(cfg.exclude) + cli_exclude, banned=len(banned),
                             removed={n: s.removed for n, s in loaded.items()}, parts=parts, entries=entries,
                             blend_count=len(blend))
    if labels is not None:
        manifest["judge"] = labels.manifest()
    write_blend(out_dir, parts, blend, manifest)
    counts_txt = ", ".join(f"{p} {v['count']}" for p, v in manifest["parts"].items())
    log(f"blend: wrote {len(blend)} examples to {out_dir}/blend.jsonl (part files: {counts_txt})")
    return manifest


def check_blend(recipe: dict | str | os.PathLike, data_root: str | os.PathLike | None = None,
                rows: int = 20) -> dict:
    """The recipe check (``build-blend --check``): load the first ``rows`` usable records of every
    source the mix uses (hub sources streamed: no full download), build each of its parts from them,
    and report per source the records read, the examples each part gets from them, and every problem
    (a field a record lacks, a layout the loader cannot read, a part that gets nothing). Writes nothing.

    Returns ``{"rows", "sources": {name: {"path", "format", "records", "parts": {part: {"examples",
    "skipped"}}, "problems": [...]}}, "problems": [...]}``. A part that gets no example from so few
    rows is reported as a problem only when its loading failed; otherwise it is a ``warning`` (BM25
    negatives need a pool larger than a few records).
    """
    if not isinstance(rows, int) or isinstance(rows, bool) or rows < 1:
        raise ValueError(f"rows must be a positive integer, got {rows!r}")
    if not isinstance(recipe, dict):
        recipe = load_recipe(recipe)
    cfg = parse_blend(recipe)
    root = _data_root(data_root)
    needs: dict[str, list[str]] = {}
    for m in cfg.mix:
        needs.setdefault(m.source, []).append(m.part)
    report: dict[str, Any] = {"rows": rows, "sources": {}, "problems": [], "warnings": []}
    for name, parts in needs.items():
        spec = cfg.sources[name]
        spec = dataclasses.replace(spec, limit=min(spec.limit or rows, rows),
                                   corpus_limit=min(spec.corpus_limit or rows, rows))
        entry: dict[str, Any] = {"path": spec.path, "format": spec.format, "records": 0, "parts": {},
                                 "problems": [], "warnings": []}
        report["sources"][name] = entry
        try:
            src = LoadedSource(name, spec, cfg, root, set(parts))
        except RankragError as e:
            entry["problems"].append(str(e))
            continue
        entry["format"] = src.fmt or ("chat" if src.chat else None)
        entry["records"] = len(src.chat) if src.chat else len(src.queries)
        for part in parts:
            try:
                exs, skipped = build_part(part, src, cfg)
            except RankragError as e:
                entry["problems"].append(f"part {part}: {e}")
                continue
            entry["parts"][part] = {"examples": len(exs), "skipped": skipped}
            if not exs:
                entry["warnings"].append(f"part {part}: no example from the first {entry['records']} records "
                                         f"({skipped} skipped: no gold/answer passage or too few negatives)")
    for name, entry in report["sources"].items():
        report["problems"] += [f"{name}: {p}" for p in entry["problems"]]
        report["warnings"] += [f"{name}: {w}" for w in entry["warnings"]]
    return report
