"""File helpers shared by every module: JSONL (plain or gzip), atomic writes, output locks, hashes.

- Reading: text is UTF-8; a file that is not is a one-line error naming the file and line (from 1);
  so is a ``.gz`` file that is not gzip or is cut short, and a path that cannot be read (a folder, no
  permission).
- Writing: :func:`atomic_write` / :func:`atomic_dir` build beside the target and rename into place;
  what they leave follows the umask (as ``open`` / ``mkdir`` would), not tempfile's private 0600/0700.
- Ownership: :func:`output_lock` (an ``fcntl.flock`` on ``.NAME.lock`` beside the output, released by
  the kernel when the process dies) makes a second run on the same output fail at once with one
  line naming the first run's pid.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import glob
import gzip
import hashlib
import json
import os
import shutil
import tempfile
import time
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path

from rankrag_lite.errors import RankragError


class Utf8Reader:
    """A read-only text file (plain or gzip) decoded line by line: bytes that are not UTF-8 become
    ``RankragError("FILE:LINE: not UTF-8 text ...")`` instead of a ``UnicodeDecodeError`` traceback."""

    def __init__(self, path: Path):
        self.path = path
        self.name = str(path)
        try:
            self._raw = gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")
        except OSError as e:
            raise RankragError(f"cannot read {path}: {reason(e)}") from None
        self._lineno = 0

    def _bytes(self, read, *args) -> bytes:
        """``read(*args)`` with a bad or cut-short gzip stream (and any read error) as one line."""
        try:
            return read(*args)
        except EOFError:  # gzip: the stream ends before its end-of-stream marker
            raise RankragError(f"{self.path}: truncated gzip file (it ends before its end marker, after "
                               f"line {self._lineno}); copy or download it again") from None
        except (gzip.BadGzipFile, zlib.error) as e:
            raise RankragError(f"{self.path}: not a valid gzip file ({e}); a .gz file must be gzip-"
                               "compressed (rename it if it is plain text)") from None
        except OSError as e:
            raise RankragError(f"cannot read {self.path}: {reason(e)}") from None

    def _decode(self, data: bytes, first_line: int) -> str:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as e:
            line = first_line + data.count(b"\n", 0, e.start)
            raise RankragError(f"{self.path}:{line}: not UTF-8 text (byte {data[e.start]:#04x}); "
                               "re-save the file as UTF-8") from None
        # universal newlines, as text mode gives them
        return text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text

    def readline(self) -> str:
        data = self._bytes(self._raw.readline)
        if not data:
            return ""
        self._lineno += 1
        return self._decode(data, self._lineno)

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        line = self.readline()
        if not line:
            raise StopIteration
        return line

    def read(self, size: int = -1) -> str:
        data = self._bytes(self._raw.read) if size is None or size < 0 else self._bytes(self._raw.read, size)
        text = self._decode(data, self._lineno + 1)
        self._lineno += data.count(b"\n")
        return text

    def close(self) -> None:
        self._raw.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def reason(e: OSError) -> str:
    """The cause of an OS error in words, lower case (``no space left on device``)."""
    text = e.strerror or str(e) or type(e).__name__
    return text[:1].lower() + text[1:]


def os_error_line(e: OSError) -> str:
    """One line for an OS error: the path(s) it names and its cause (``out.jsonl: permission denied``)."""
    paths = [str(p) for p in (e.filename, getattr(e, "filename2", None)) if p is not None]
    return f"{' -> '.join(paths)}: {reason(e)}" if paths else reason(e)


def open_text(path: str | os.PathLike, mode: str = "rt"):
    """Open a text file, transparently gunzipping ``*.gz``; reading checks UTF-8 (see Utf8Reader)."""
    path = Path(path)
    if "r" in mode and not path.exists():
        raise RankragError(f"file not found: {path}")
    if mode in ("r", "rt"):
        return Utf8Reader(path)
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
    for _, rec in iter_jsonl_lines(path):
        yield rec


def iter_jsonl_lines(path: str | os.PathLike) -> Iterator[tuple[int, dict]]:
    """``(line number from 1, record)`` for each non-blank line of a JSONL file."""
    with open_text(path) as f:
        for lineno, line in enumerate(f, start=1):
            line = line.strip()
            if not line:
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as e:
                raise RankragError(f"{path}:{lineno}: not valid JSON ({e.msg})") from None
            yield lineno, rec


def read_text(path: str | os.PathLike) -> str:
    """The whole of a UTF-8 text file (plain or gzip)."""
    with open_text(path) as f:
        return f.read()


def read_jsonl(path: str | os.PathLike) -> list[dict]:
    return list(iter_jsonl(path))


def dumps(record) -> str:
    """Canonical one-line JSON (stable key order as given, UTF-8 kept)."""
    return json.dumps(record, ensure_ascii=False)


def current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _lock_path(path: Path) -> Path:
    path = Path(os.path.abspath(path))
    return path.with_name(f".{path.name}.lock")


_HELD: dict[str, list] = {}  # lock file -> [open file, depth]: a process may re-enter its own lock


def _try_flock(f, kind: int, tries: int = 5) -> bool:
    """``flock(f, kind)`` without waiting for an owner; a few short retries let a reader's brief
    probe (:func:`lock_owner`) pass, so it is never taken for a running owner."""
    for i in range(tries):
        try:
            fcntl.flock(f, kind | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if i + 1 < tries:
                time.sleep(0.02)
    return False


@contextlib.contextmanager
def output_lock(path: str | os.PathLike):
    """Own the output ``path`` (file or folder) for the duration of the block.

    A second process asking for the same output gets ``RankragError`` naming the first (its pid) at
    once; the lock dies with its process (``kill -9`` leaves no stale lock), and the lock file is
    removed on a clean exit. Taking it removes what a killed earlier run left beside the output
    (:func:`clean_leftovers`: file and folder outputs alike). Re-entrant within a process.
    """
    lock = _lock_path(Path(path))
    key = str(lock)
    if key in _HELD:
        _HELD[key][1] += 1
        try:
            yield
        finally:
            _HELD[key][1] -= 1
        return
    while True:
        try:
            lock.parent.mkdir(parents=True, exist_ok=True)
            f = open(lock, "a+", encoding="utf-8")
        except OSError as e:
            raise RankragError(f"cannot write the output {path}: {e.strerror} ({lock.parent})") from None
        if not _try_flock(f, fcntl.LOCK_EX):
            f.seek(0)
            owner = f.read().strip() or "unknown"
            f.close()
            raise RankragError(f"{path} is being written by another run (pid {owner}); wait for it to "
                               f"finish or choose another output") from None
        # the file may have been removed (and re-created) by its previous owner after we opened it
        try:
            same = os.fstat(f.fileno()).st_ino == os.stat(lock).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        f.close()
    f.seek(0)
    f.truncate()
    f.write(f"{os.getpid()}\n")
    f.flush()
    _HELD[key] = [f, 1]
    try:
        clean_leftovers(path)  # what a killed run on this output left (its owner is gone)
        yield
    finally:
        del _HELD[key]
        with contextlib.suppress(FileNotFoundError):
            os.unlink(lock)
        f.close()


#: errors of a write that name no file: the file being written is the cause's place
_WRITE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}


class OutputNotWritten(RankragError):
    """Writing the output ``path`` failed for want of room (a full disk, a quota); nothing of it was
    left and an earlier output there is kept. One line naming the output (the folder, for a file
    written inside a folder being built)."""

    def __init__(self, path, cause: str):
        super().__init__(f"cannot write {path}: {cause}; nothing was written (an earlier output there "
                         "is kept)")
        self.path, self.cause = path, cause


def lock_owner(path: str | os.PathLike) -> str | None:
    """The pid of another process that holds :func:`output_lock` on ``path`` now, else ``None``."""
    lock = _lock_path(Path(path))
    if str(lock) in _HELD:
        return None
    try:
        f = open(lock, encoding="utf-8")
    except OSError:  # no lock file: nobody owns it
        return None
    with f:  # a shared lock, released when f closes
        return None if _try_flock(f, fcntl.LOCK_SH) else (f.read().strip() or "unknown")


def check_not_being_written(path: str | os.PathLike, levels: int = 2) -> None:
    """Refuse to read ``path`` while a running command owns it or a folder up to ``levels`` above it
    (a ``finetune`` writing ``OUT`` owns ``OUT/adapter`` too): it may be replaced under the reader."""
    path = Path(path)
    here = Path(os.path.abspath(path))
    for folder in [here, *here.parents][:levels + 1]:
        owner = lock_owner(folder)
        if owner is not None:
            raise RankragError(f"{path} is being written by a running command (pid {owner}, writing "
                               f"{folder}); wait for it to finish, then run this again")


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "w"):
    """Write to a temporary file beside ``path`` and rename it into place only on success.

    The block holds :func:`output_lock` on ``path`` (re-entrant: a command that owns its output
    already keeps owning it), so taking it removes a killed earlier run's ``.NAME.*.part``. The file
    gets the permissions a plain ``open`` would (0666 less the umask). A full disk is one line naming
    ``path``; the earlier file there, if any, is kept."""
    with output_lock(path), _write_beside(Path(path), mode) as f:
        yield f


@contextlib.contextmanager
def _write_beside(path: Path, mode: str):
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    except OSError as e:
        raise RankragError(f"cannot write {path}: {reason(e)} ({e.filename or path.parent})") from None
    os.fchmod(fd, 0o666 & ~current_umask())
    try:
        with os.fdopen(fd, mode, encoding=None if "b" in mode else "utf-8") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if e.filename is None and e.errno in _WRITE_ERRNOS:  # writing this file failed (a full disk)
            raise OutputNotWritten(path, reason(e)) from None
        raise
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

    The block holds :func:`output_lock` on ``path``. An interrupted run leaves at most a hidden
    ``.{name}.*.part`` folder, never a folder that looks complete; the next run on ``path`` removes
    such leftovers. The finished folder and everything in it follow the umask (tempfile makes 0700).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with output_lock(path):
        try:
            tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent))
        except OSError as e:
            raise RankragError(f"cannot write {path}: {reason(e)} ({e.filename or path.parent})") from None
        try:
            yield tmp
            if path.exists() and not overwrite:
                raise RankragError(f"output exists: {path}")
            follow_umask(tmp)
            if path.exists():
                old = path.with_name(f".{path.name}.old")
                os.replace(path, old)
                os.replace(tmp, path)
                shutil.rmtree(old)
            else:
                os.replace(tmp, path)
        except OSError as e:
            shutil.rmtree(tmp, ignore_errors=True)
            inside = e.filename is None or str(e.filename).startswith(str(tmp))
            if inside and e.errno in _WRITE_ERRNOS:
                raise OutputNotWritten(path, reason(e)) from None
            raise
        except OutputNotWritten as e:  # a file of the folder: name the folder, the user's output
            shutil.rmtree(tmp, ignore_errors=True)
            raise OutputNotWritten(path, e.cause) from None
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise


def clean_leftovers(path: str | os.PathLike) -> None:
    """Remove what an earlier, killed run on ``path`` left beside it (``.NAME.*.part``, ``.NAME.old``).
    Call it only while holding :func:`output_lock` on ``path``."""
    path = Path(path)
    for stale in path.parent.glob(f".{glob.escape(path.name)}.*.part"):
        if stale.is_dir() and not stale.is_symlink():
            shutil.rmtree(stale, ignore_errors=True)
        else:
            stale.unlink(missing_ok=True)
    old = path.with_name(f".{path.name}.old")
    if old.is_dir():
        shutil.rmtree(old, ignore_errors=True)


def follow_umask(root: str | os.PathLike) -> None:
    """Give ``root`` and everything below it the modes ``mkdir`` / ``open`` give under the umask
    (0777 / 0666 less the umask; a file with an execute bit keeps 0777 less the umask)."""
    mask = current_umask()
    for dirpath, _dirnames, filenames in os.walk(root):
        os.chmod(dirpath, 0o777 & ~mask)
        for fn in filenames:
            p = os.path.join(dirpath, fn)
            if os.path.islink(p):
                continue
            base = 0o777 if os.stat(p).st_mode & 0o111 else 0o666
            os.chmod(p, base & ~mask)


def sha256_file(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def write_png(fig, path: str | os.PathLike, **savefig_kwargs) -> Path:
    """Save a matplotlib figure as PNG atomically (beside ``path``, renamed on success) and close it."""
    import matplotlib.pyplot as plt

    path = Path(path)
    try:
        with atomic_write(path, mode="wb") as f:
            fig.savefig(f, format="png", **savefig_kwargs)
    finally:
        plt.close(fig)
    return path
