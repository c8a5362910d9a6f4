"""Where a source lives: a local path, or a Hugging Face hub dataset read through ``datasets``.

- :func:`is_local`: a source name is a local path (it exists, or looks like a file name).
- :func:`hub_location`: what ``datasets.load_dataset`` gets for a hub name (the name, or its folder in
  an offline mirror named by ``RANKRAG_LITE_HUB_MIRROR``).
- :func:`hub_rows` / :func:`hub_records`: the rows of a hub dataset split as plain dicts (streamed or
  whole); a failure is one :class:`~rankrag_lite.errors.RankragError` line naming the dataset.

The format readers (``formats.beir``) and the source loaders (``data.sources``) both open hub data
through this module, the bottom of the ``formats`` floor (it imports nothing of the kit but errors).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from rankrag_lite.errors import RankragError

_LOCAL_EXTS = (".json", ".jsonl", ".tsv", ".txt", ".csv", ".gz")


def is_local(source: str) -> bool:
    """A source is a local path if it exists or looks like a file name (known extension, ./, /)."""
    s = str(source)
    if os.path.exists(s):
        return True
    return s.startswith((".", "/", "~")) or s.lower().endswith(_LOCAL_EXTS) or os.sep + os.sep in s


#: environment variable naming a folder that mirrors hub dataset repositories (``{folder}/{owner}/{name}``,
#: with the repository's own files and README configs): a hub name found there is loaded from it, through
#: the same ``datasets.load_dataset`` call (offline mirrors; the tests' hub layouts).
HUB_MIRROR_ENV = "RANKRAG_LITE_HUB_MIRROR"


def hub_location(name: str) -> str:
    """What ``datasets.load_dataset`` gets for a hub name: the name, or its folder in the mirror."""
    mirror = os.environ.get(HUB_MIRROR_ENV)
    if mirror:
        local = Path(os.path.expanduser(mirror)) / name
        if local.is_dir():
            return str(local)
    return name


def hub_label(name: str, config: str | None, split: str | None, data_files) -> str:
    extra = f" ({config})" if config else ""
    if data_files:
        extra += f" files {data_files if isinstance(data_files, str) else list(data_files)!r}"
    return f"hub dataset {name!r}{extra} split {split or 'train'!r}"


def hub_rows(name: str, split: str | None = None, config: str | None = None, data_files=None,
             streaming: bool = False) -> Iterable[dict]:
    """Rows of a hub dataset as plain dicts: ``datasets.load_dataset(name, config, split=...,
    data_files=..., streaming=...)``. ``streaming`` yields rows lazily (the first rows of a large split
    without downloading all of it: MS MARCO train is 1.7 GB); otherwise the split is loaded whole."""
    try:
        import datasets
    except ImportError as e:  # pragma: no cover
        raise RankragError("loading a hub dataset needs the 'datasets' package") from e
    label = hub_label(name, config, split, data_files)

    def fail(e: Exception):
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        return RankragError(f"cannot load {label}: {msg}")

    kwargs = {"split": split or "train", "streaming": streaming}
    if data_files:
        kwargs["data_files"] = data_files
    try:
        ds = datasets.load_dataset(hub_location(name), config, **kwargs)
    except Exception as e:  # noqa: BLE001  (network, unknown name, ...: one line, the cause chained)
        raise fail(e) from e
    if not streaming:
        return [dict(r) for r in ds]

    def lazy():
        it = iter(ds)
        while True:
            try:
                row = next(it)
            except StopIteration:
                return
            except Exception as e:  # noqa: BLE001  (a broken file or connection mid-stream)
                raise fail(e) from e
            yield dict(row)

    return lazy()


def hub_records(name: str, split: str | None = None, config: str | None = None, data_files=None) -> list[dict]:
    """All rows of a hub dataset split as plain dicts (:func:`hub_rows` without streaming)."""
    return list(hub_rows(name, split=split, config=config, data_files=data_files))
