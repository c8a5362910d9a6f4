"""File helpers shared by every module: JSONL (plain or gzip), atomic writes, hashes."""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from rankrag_lite.errors import RankragError


def open_text(path: str | os.PathLike, mode: str = "rt"):
    """Open a text file, transparently gunzipping ``*.gz``."""
    path = Path(path)
    if "r" in mode and not path.exists():
        raise RankragError(f"file not found: {path}")
    if path.suffix == ".gz":
        return gzip.open(path, mode, encoding="utf-8")
    return open(path, mode, encoding="utf-8")


def read_json(path: str | os.PathLike):
    with open_text(path) as f:
        try:
            return json.load(f)
        except json.JSONDecodeError as e:
            raise RankragError(f"{path}: not valid JSON ({e})") from None


def iter_jsonl(path: str | os.PathLike) -> Iterator[dict]:
    """Stream the records of a JSONL file; a malformed line is a one-line error naming it."""
    with open_text(path) as f:
        for lineno, line in enumerate(f, start=1):
            line = line.strip()
            if not line:
                continue
            try:
                yield json.loads(line)
            except json.JSONDecodeError as e:
                raise RankragError(f"{path}:{lineno}: not valid JSON ({e.msg})") from None


def read_jsonl(path: str | os.PathLike) -> list[dict]:
    return list(iter_jsonl(path))


def dumps(record) -> str:
    """Canonical one-line JSON (stable key order as given, UTF-8 kept)."""
    return json.dumps(record, ensure_ascii=False)


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "w"):
    """Write to a temporary file beside ``path`` and rename it into place only on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, mode, encoding=None if "b" in mode else "utf-8") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_jsonl(path: str | os.PathLike, records: Iterable[dict]) -> int:
    """Atomically write records as JSONL; returns the count."""
    n = 0
    with atomic_write(path) as f:
        for r in records:
            f.write(dumps(r) + "\n")
            n += 1
    return n


def write_json(path: str | os.PathLike, obj, indent: int = 2) -> None:
    with atomic_write(path) as f:
        json.dump(obj, f, ensure_ascii=False, indent=indent, sort_keys=False)
        f.write("\n")


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike, overwrite: bool = True):
    """Build a directory in a temporary sibling, then swap it into place on success.

    An interrupted run leaves at most a hidden ``.{name}.*.part`` folder, never a folder that looks
    complete.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent))
    try:
        yield tmp
        if path.exists():
            if not overwrite:
                raise RankragError(f"output exists: {path}")
            old = path.with_name(f".{path.name}.old")
            if old.exists():
                shutil.rmtree(old)
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old)
        else:
            os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def sha256_file(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
