"""rankrag_lite.io: readers that name the file (a folder, a bad or cut-short gzip), writes that leave
nothing half-written (a full disk on a real tmpfs), outputs whose leftovers the next owner removes, and
reading a folder that a running command owns (a real process holds the lock); through every command:
an output another run owns is refused, kill -9 leaves no stale lock, parallel runs never corrupt an
output, non-UTF-8 input and bad lines are named by file and line (counted from 1), outputs follow the
umask."""

from __future__ import annotations

import gzip
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from cli_helpers import HOLDER, Holder, cli, env, fill, one_line_error, write_jsonl
from rankrag_lite.errors import RankragError
from rankrag_lite.io import (atomic_dir, atomic_write, check_not_being_written, iter_jsonl, lock_owner,
                             output_lock, read_text, write_json)
from small_corpus import DOCS

FIX = Path(__file__).parent / "fixtures"
LATIN1 = b'{"id": "1", "title": "Caf\xe9", "text": "x"}\n'
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


# --- every command owns its output; non-UTF-8 input, the umask and line numbers through the CLI ---



def _command_args(name: str, tmp: Path, out: Path, corpus: Path) -> list:
    cands = write_jsonl(tmp / "cands.jsonl", [{"qid": "q1", "question": "who wrote hamlet",
                                               "passages": [{"pid": "d1", "text": DOCS[0]["text"]}]}])
    recipe = tmp / "r.yaml"
    recipe.write_text("finetune: {backend: hf, model: smollm2-135m}\n"
                      "blend: {sources: {sft: {path: x.jsonl}}, mix: [{part: sft, source: sft, weight: 1}]}\n")
    return {
        "index": ["index", "--corpus", corpus, "--out", out],
        "retrieve": ["retrieve", "--index", tmp / "nowhere", "--queries", cands, "--out", out],
        "rerank": ["rerank", "--model", "smollm2-135m", "--input", cands, "--out", out],
        "answer": ["answer", "--model", "smollm2-135m", "--input", cands, "--out", out, "--k", "1"],
        "rag": ["rag", "--index", tmp / "nowhere", "--model", "smollm2-135m", "--questions", cands,
                "--out", out],
        "evaluate": ["evaluate", "--data", cands, "--out", out, "--rankers", "given"],
        "build-blend": ["build-blend", "--recipe", recipe, "--out", out],
        "finetune": ["finetune", "--stage", "2", "--recipe", recipe, "--data", FIX / "blend_tiny.jsonl",
                     "--out", out],
        "merge": ["merge", "--adapter", tmp / "nowhere", "--out", out],
    }[name]

@pytest.mark.parametrize("command", ["index", "retrieve", "rerank", "answer", "rag", "evaluate",
                                     "build-blend", "finetune", "merge"])
def test_second_run_on_a_locked_output_is_refused(command, tmp_path, corpus):
    out = tmp_path / "out"
    holder = Holder(out)
    try:
        res = cli(*_command_args(command, tmp_path, out, corpus))
        one_line_error(res, f"pid {holder.pid}", str(out))
        assert not out.exists()
    finally:
        holder.kill9()

def test_kill_9_leaves_no_stale_lock_and_leftovers_are_cleaned(tmp_path, corpus):
    out = tmp_path / "idx"
    holder = Holder(out)
    holder.kill9()
    # what a killed run leaves beside its output (item 10): a half-built folder, a half-swapped one
    (tmp_path / ".idx.k3j2_x.part").mkdir()
    (tmp_path / ".idx.k3j2_x.part" / "docs.jsonl").write_text("half")
    (tmp_path / ".idx.old").mkdir()
    res = cli("index", "--corpus", corpus, "--out", out)
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corpus.jsonl", "idx"]  # no lock, no leftovers

def test_parallel_index_runs_never_corrupt_the_output(tmp_path):
    """The issue's four parallel ``index`` runs on one --out: each either writes the index or stops
    with one line naming the run that owns it; the index is whole. Stderr goes to a file, so the
    progress comes as plain lines (item 13)."""
    big = write_jsonl(tmp_path / "big.jsonl", [{"id": f"d{i}", "title": f"t{i}", "text": f"word{i} " * 30}
                                               for i in range(3000)])
    out = tmp_path / "idx"
    procs = []
    for i in range(4):
        err = open(tmp_path / f"err{i}.txt", "w")
        procs.append((subprocess.Popen([sys.executable, "-m", "rankrag_lite", "index", "--corpus", str(big),
                                        "--out", str(out)], stdout=subprocess.DEVNULL, stderr=err,
                                       env=env(RANKRAG_LITE_QUIET="0", RANKRAG_LITE_PROGRESS_EVERY="0")), err))
    codes = []
    for p, err in procs:
        codes.append(p.wait(timeout=300))
        err.close()
    errs = [(tmp_path / f"err{i}.txt").read_text() for i in range(4)]
    assert set(codes) <= {0, 2} and 0 in codes, (codes, errs)
    for code, text in zip(codes, errs):
        assert "Traceback" not in text, text
        if code == 2:
            assert "is being written by another run (pid " in text, text
    from rankrag_lite.retrieval import load_index

    assert len(load_index(out)) == 3000
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []
    ok = errs[codes.index(0)]
    lines = [line for line in ok.splitlines() if line.startswith("Tokenizing: ")]
    assert lines and "/3,000 (" in lines[0] and "/s" in lines[-1], ok
    assert any("left" in line for line in lines), ok

def test_non_utf8_input_is_one_line_naming_file_and_line(tmp_path, index):
    bad = tmp_path / "l1.jsonl"
    bad.write_bytes(b'{"id": "0", "title": "ok", "text": "fine"}\n' + LATIN1)
    where = f"{bad}:2: not UTF-8 text"
    one_line_error(cli("index", "--corpus", bad, "--out", tmp_path / "i"), where)
    one_line_error(cli("retrieve", "--index", index, "--queries", bad, "--out", tmp_path / "c.jsonl"), where)
    bad1 = tmp_path / "e.jsonl"
    bad1.write_bytes(LATIN1)
    one_line_error(cli("evaluate", "--data", bad1, "--out", tmp_path / "ev"), f"{bad1}:1: not UTF-8 text")
    recipe = tmp_path / "r.yaml"
    recipe.write_text(f"finetune: {{backend: hf, model: smollm2-135m}}\n"
                      f"blend: {{sources: {{sft: {{path: {bad1}}}}}, mix: [{{part: sft, source: sft, weight: 1}}]}}\n")
    one_line_error(cli("build-blend", "--recipe", recipe, "--out", tmp_path / "b"), f"{bad1}:1: not UTF-8 text")
    one_line_error(cli("finetune", "--stage", "2", "--recipe", recipe, "--data", bad1, "--out", tmp_path / "f"),
                   f"{bad1}:1: not UTF-8 text")
    latin_recipe = tmp_path / "latin.yaml"
    latin_recipe.write_bytes(b"name: caf\xe9\n")
    one_line_error(cli("build-blend", "--recipe", latin_recipe, "--out", tmp_path / "b"),
                   f"{latin_recipe}:1: not UTF-8 text")
    assert not any(p.name in ("i", "c.jsonl", "ev", "b", "f") for p in tmp_path.iterdir())

@pytest.mark.parametrize("mask", [0o022, 0o077])
def test_outputs_follow_the_umask(tmp_path, corpus, mask):
    old = os.umask(mask)
    try:
        assert cli("index", "--corpus", corpus, "--out", tmp_path / "idx").exit_code == 0
        q = write_jsonl(tmp_path / "q.jsonl", [{"qid": "1", "question": "hamlet"}])
        assert cli("retrieve", "--index", tmp_path / "idx", "--queries", q, "--out", tmp_path / "c.jsonl",
                   "--run", tmp_path / "c.trec").exit_code == 0
    finally:
        os.umask(old)
    modes = {p.relative_to(tmp_path).as_posix(): stat.S_IMODE(p.stat().st_mode)
             for p in [tmp_path / "idx", *(tmp_path / "idx").rglob("*"), tmp_path / "c.jsonl", tmp_path / "c.trec"]}
    for name, mode in modes.items():
        want = (0o777 if (tmp_path / name).is_dir() else 0o666) & ~mask
        assert mode == want, (name, oct(mode), oct(want))

def test_messages_count_lines_from_one(tmp_path):
    cands = tmp_path / "c.jsonl"
    cands.write_text("\n" + json.dumps({"qid": "1", "question": "q", "passages": [{"pid": "p", "text": "t"}]})
                     + "\n" + json.dumps({"qid": "2", "passages": [{"pid": "p", "text": "t"}]}) + "\n")
    one_line_error(cli("rerank", "--model", "smollm2-135m", "--input", cands, "--out", tmp_path / "r.jsonl"),
                   f"{cands}:3: record (qid 2) has no 'question'")
    one_line_error(cli("answer", "--model", "smollm2-135m", "--input", cands, "--out", tmp_path / "a.jsonl",
                       "--k", "1"), f"{cands}:3: record (qid 2) has no 'question'")
    bad_json = tmp_path / "corpus.jsonl"
    bad_json.write_text(json.dumps(DOCS[0]) + "\n{not json\n")
    line = one_line_error(cli("index", "--corpus", bad_json, "--out", tmp_path / "i"), f"{bad_json}:2: not valid JSON")
    assert line.count(str(bad_json)) == 1
    qa = write_jsonl(tmp_path / "qa.jsonl", [{"question": "q", "answers": ["a"]}, {"answers": ["b"]}])
    recipe = tmp_path / "r.yaml"
    recipe.write_text(f"blend: {{sources: {{nq: {{path: {qa}, format: nq-open}}}}, "
                      f"mix: [{{part: context_qa, source: nq, weight: 1}}]}}\n")
    res = cli("build-blend", "--recipe", recipe, "--out", tmp_path / "b")
    one_line_error(res, "record 2")
