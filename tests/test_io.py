"""rankrag_lite.io: readers that name the file (a folder, a bad or cut-short gzip), writes that leave
nothing half-written (a full disk on a real tmpfs), outputs whose leftovers the next owner removes, and
reading a folder that a running command owns (a real process holds the lock)."""

from __future__ import annotations

import gzip
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from cli_helpers import env, fill
from rankrag_lite.errors import RankragError
from rankrag_lite.io import (atomic_dir, atomic_write, check_not_being_written, iter_jsonl, lock_owner,
                             output_lock, read_text, write_json)

ROWS = "".join(f'{{"qid": "q{i}", "text": "row {i}"}}\n' for i in range(200))


def test_a_folder_is_not_read_as_a_file(tmp_path):
    with pytest.raises(RankragError, match=f"cannot read {tmp_path}: is a directory"):
        list(iter_jsonl(tmp_path))


def test_a_gz_file_that_is_not_gzip_is_named(tmp_path):
    bad = tmp_path / "data.jsonl.gz"
    bad.write_text(ROWS)
    with pytest.raises(RankragError, match=r"data.jsonl.gz: not a valid gzip file \(Not a gzipped file"):
        list(iter_jsonl(bad))


def test_a_truncated_gzip_is_named_with_the_lines_read(tmp_path):
    whole = gzip.compress(ROWS.encode())
    cut = tmp_path / "cut.jsonl.gz"
    cut.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(RankragError, match=r"cut.jsonl.gz: truncated gzip file") as e:
        list(iter_jsonl(cut))
    assert "\n" not in str(e.value)
    with pytest.raises(RankragError, match="truncated gzip file"):
        read_text(cut)
    (tmp_path / "ok.jsonl.gz").write_bytes(whole)
    assert len(list(iter_jsonl(tmp_path / "ok.jsonl.gz"))) == 200


def test_a_full_disk_is_one_line_naming_the_file_and_keeps_the_old_output(small_disk):
    out = small_disk / "out.jsonl"
    out.write_text("the previous output\n")
    fill(small_disk)
    with pytest.raises(RankragError, match=f"cannot write {out}: no space left on device; nothing was written"):
        with atomic_write(out) as f:
            for _ in range(100):
                f.write("x" * 4096)
    assert out.read_text() == "the previous output\n"
    assert sorted(p.name for p in small_disk.iterdir()) == ["filler", "out.jsonl"]  # no .part, no lock


def test_a_full_disk_while_building_a_folder(small_disk):
    fill(small_disk)
    with pytest.raises(RankragError, match=f"cannot write {small_disk / 'report'}: no space left on device"):
        with atomic_dir(small_disk / "report") as tmp:
            (tmp / "big.bin").write_bytes(b"x" * (64 << 10))
    assert sorted(p.name for p in small_disk.iterdir()) == ["filler"]


def test_a_file_output_cleans_what_a_killed_run_left(tmp_path):
    out = tmp_path / "run.trec"
    (tmp_path / ".run.trec.abc123.part").write_text("half a run")  # a kill -9 during the write
    (tmp_path / ".run.trec.lock").write_text("4242\n")  # its lock file (the lock itself died with it)
    (tmp_path / ".other.trec.x.part").write_text("another output's: kept")
    write_json(out, {"ok": True})
    assert sorted(p.name for p in tmp_path.iterdir()) == [".other.trec.x.part", "run.trec"]


HOLDER = textwrap.dedent("""
    import sys, time
    from rankrag_lite.io import output_lock
    with output_lock(sys.argv[1]):
        print("locked", flush=True)
        time.sleep(600)
""")


def test_a_folder_being_written_is_refused_and_free_after(tmp_path):
    out = tmp_path / "ft-out"
    (out / "adapter").mkdir(parents=True)
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(out)], env=env(), stdout=subprocess.PIPE,
                              text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        assert lock_owner(out) == str(holder.pid)
        for path in (out, out / "adapter"):
            with pytest.raises(RankragError, match=f"is being written by a running command \\(pid {holder.pid}"):
                check_not_being_written(path)
    finally:
        holder.kill()
        holder.wait()
    assert lock_owner(out) is None
    check_not_being_written(out / "adapter")
    with output_lock(out):  # this process's own lock is not "another run"
        check_not_being_written(out)
