"""Reliability (issue 11): parallel runs, kill -9, bad encodings, mismatched qrels, empty hits, ...

Parallel-run cases use real processes (``python -m rankrag_lite`` and a process that holds an output's
lock); the rest go through typer's CliRunner or the library. Data: the small attributed subsets in
tests/fixtures (see its README) and a few hand-written lines.
"""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from cli_helpers import ROOT, cli, env, one_line_error, run_cli, write_jsonl
from rankrag_lite.errors import RankragError
from rankrag_lite.io import read_jsonl

FIX = Path(__file__).parent / "fixtures"
LATIN1 = b'{"id": "1", "title": "Caf\xe9", "text": "x"}\n'
DOCS = [{"id": "d1", "title": "Hamlet", "text": "Hamlet is a tragedy written by William Shakespeare."},
        {"id": "d2", "title": "Python", "text": "Python is a programming language by Guido van Rossum."},
        {"id": "d3", "title": "Paris", "text": "Paris is the capital and largest city of France."}]


HOLDER = textwrap.dedent("""
    import sys, time
    from rankrag_lite.io import output_lock
    with output_lock(sys.argv[1]):
        print("locked", flush=True)
        time.sleep(600)
""")


class Holder:
    """A real process that owns an output (as a running command would) until it is killed."""

    def __init__(self, out: Path):
        self.proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(out)], env=env(),
                                     stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout.readline().strip() == "locked"
        self.pid = self.proc.pid

    def kill9(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()


@pytest.fixture
def corpus(tmp_path) -> Path:
    return write_jsonl(tmp_path / "corpus.jsonl", DOCS)


@pytest.fixture
def index(tmp_path, corpus) -> Path:
    res = cli("index", "--corpus", corpus, "--out", tmp_path / "idx")
    assert res.exit_code == 0, res.output
    return tmp_path / "idx"


# --- 1. a run owns its output ---------------------------------------------------------------------


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


@pytest.mark.slow
def test_parallel_finetune_refused_then_resume_after_kill_9(tmp_path, tiny_recipe):
    """Item 1 with the issue's reproduction (a second finetune on a running one's --out), then
    kill -9 of the first (no stale lock), --resume, and item 5: the resumed run's train_loss is the
    mean over all its steps (the log has one loss per step), not this run's sum over all steps."""
    recipe = tiny_recipe(tmp_path / "r.yaml", stage2={"max_examples": 12, "max_steps": 6, "save_steps": 1,
                                                     "logging_steps": 1})
    out = tmp_path / "run"
    args = ["finetune", "--stage", "2", "--recipe", recipe, "--data", FIX / "blend_tiny.jsonl", "--out", out]
    first = subprocess.Popen([sys.executable, "-m", "rankrag_lite", *map(str, args)], env=env(),
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    ckpt = tmp_path / ".run.work" / "checkpoints" / "checkpoint-1" / "trainer_state.json"
    try:
        deadline = time.time() + 240
        while time.time() < deadline and not (tmp_path / ".run.lock").exists() and first.poll() is None:
            time.sleep(0.1)
        assert first.poll() is None, first.stderr.read().decode()[-2000:]
        second = run_cli(*args)
        assert second.returncode == 2, second.stderr
        assert second.stderr.strip().splitlines() == [
            f"error: {out} is being written by another run (pid {first.pid}); wait for it to finish or "
            "choose another output"], second.stderr
        while time.time() < deadline and not ckpt.exists() and first.poll() is None:
            time.sleep(0.1)
        assert ckpt.exists(), "no checkpoint"
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
        first.wait()
    resumed = run_cli(*args, "--resume")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["resumed_from"] is not None and summary["global_step"] == 6
    losses = [r["loss"] for r in read_jsonl(out / "train_log.jsonl")]
    assert len(losses) == 6
    assert summary["train_loss_steps"] == 6
    assert summary["train_loss"] == pytest.approx(sum(losses) / 6, abs=2e-4)
    # item 6: a finished run is an ordinary folder (the test process runs under the usual umask)
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE((out / "adapter" / "adapter_config.json").stat().st_mode) == 0o666 & ~mask
    assert stat.S_IMODE((out / "adapter").stat().st_mode) == 0o777 & ~mask


def test_resumed_train_loss_counts_the_steps_before_the_resume():
    from rankrag_lite.training.finetune import train_loss_over_all_steps

    # an uninterrupted run logs 0.8, 0.6, 0.4, 0.2 (mean 0.5); killed after step 2 and resumed,
    # transformers reports (0.4 + 0.2) / 4 = 0.15
    history = [{"loss": 0.8, "step": 1}, {"loss": 0.6, "step": 2}, {"train_runtime": 1.0, "step": 2}]
    assert train_loss_over_all_steps(0.15, 4, 2, history) == (pytest.approx(0.5), 4)
    # logging every 2 steps: the logged loss is the mean over the two steps
    assert train_loss_over_all_steps(0.15, 4, 2, [{"loss": 0.7, "step": 2}]) == (pytest.approx(0.5), 4)
    # checkpoint at 3 with logs at 2: step 3's loss is unknown and left out
    loss, steps = train_loss_over_all_steps(0.05, 4, 3, [{"loss": 0.7, "step": 2}])
    assert steps == 3 and loss == pytest.approx((1.4 + 0.2) / 3)


# --- 2. questions with no BM25 hit ----------------------------------------------------------------


def test_retrieve_warns_and_counts_queries_without_a_hit(tmp_path, index):
    q = tmp_path / "q.tsv"
    q.write_text("q1\twho wrote hamlet\nq2\t莎士比亚\n", encoding="utf-8")
    res = cli("retrieve", "--index", index, "--queries", q, "--out", tmp_path / "c.jsonl")
    assert res.exit_code == 0, res.output
    assert "warning: 1 of 2 queries found no passage" in res.output and "q2" in res.output
    assert "English" in res.output


@pytest.mark.slow
def test_rag_counts_questions_without_a_hit_as_wrong(tmp_path, index, tiny_model):
    from rankrag_lite.pipeline import rag

    qs = write_jsonl(tmp_path / "qs.jsonl", [
        {"question": "who wrote hamlet", "answers": ["William Shakespeare"]},
        {"question": "what is the capital of france", "answers": ["Paris"]},
        {"question": "量子色动力学", "answers": ["QCD"]}])
    summary = rag(index, "tiny", qs, tmp_path / "rag", n=2, k=1, max_new_tokens=6, loaded=tiny_model,
                  progress=False)
    a = summary["answers"]
    assert a["questions"] == 3 and a["no_hits"] == 1 and a["with_gold"] == 3
    rows = read_jsonl(tmp_path / "rag" / "answers.jsonl")
    assert len(rows) == 2
    assert a["em"] == pytest.approx(sum(r["em"] for r in rows) / 3)
    assert a["answered_f1"] == pytest.approx(sum(r["f1"] for r in rows) / 2)
    assert json.loads((tmp_path / "rag" / "summary.json").read_text())["answers"]["questions"] == 3


# --- 3 and 12. evaluate on bad or mismatched input ------------------------------------------------


def test_evaluate_with_qrels_of_another_set_is_refused(tmp_path):
    res = cli("evaluate", "--data", FIX / "inference" / "dl19_bm25_top20.json", "--qrels",
              FIX / "retrieval_scifact" / "qrels.tsv", "--out", tmp_path / "ev", "--rankers", "given,random",
              "--limit", "5")
    one_line_error(res, "judges none of the 3 questions")
    assert not (tmp_path / "ev").exists()


def test_evaluate_names_a_missing_qrels_file(tmp_path):
    res = cli("evaluate", "--data", FIX / "inference" / "dl19_bm25_top20.json", "--qrels", tmp_path / "no.txt",
              "--out", tmp_path / "ev", "--rankers", "given")
    one_line_error(res, f"qrels file not found: {tmp_path / 'no.txt'}")


def test_evaluate_empty_file(tmp_path):
    (tmp_path / "e.jsonl").write_text("")
    one_line_error(cli("evaluate", "--data", tmp_path / "e.jsonl", "--out", tmp_path / "ev"),
                   "e.jsonl: no records (the file is empty)")


def test_evaluate_wrong_format_points_to_the_right_one(tmp_path):
    data = FIX / "inference" / "twowiki_dev20.jsonl"
    line = one_line_error(cli("evaluate", "--data", data, "--format", "hotpotqa", "--out", tmp_path / "ev",
                              "--rankers", "given"))
    assert "--format passages" in line
    one_line_error(cli("evaluate", "--data", data, "--format", "candidates", "--out", tmp_path / "ev",
                       "--rankers", "given"), "not a candidates file", "--format passages")
    assert not (tmp_path / "ev").exists()


def test_evaluate_reports_questions_without_gold_among_candidates(tmp_path):
    rows = [{"qid": "a", "question": "who wrote hamlet", "passages": [
                {"pid": "d1", "text": DOCS[0]["text"], "is_gold": True}, {"pid": "d2", "text": DOCS[1]["text"]}]},
            {"qid": "b", "question": "capital of france", "passages": [
                {"pid": "d2", "text": DOCS[1]["text"]}, {"pid": "d1", "text": DOCS[0]["text"]}]}]
    data = write_jsonl(tmp_path / "c.jsonl", rows)
    qrels = tmp_path / "qrels.tsv"
    qrels.write_text("a\t0\td1\t1\nb\t0\td3\t1\n")  # b's gold passage d3 is not among its candidates
    res = cli("evaluate", "--data", data, "--qrels", qrels, "--out", tmp_path / "ev", "--rankers", "given",
              "--k", "1")
    assert res.exit_code == 0, res.output
    m = json.loads((tmp_path / "ev" / "metrics.json").read_text())
    assert m["dataset"]["no_gold_in_candidates"] == 1
    assert m["rankers"]["given"]["metrics"]["Recall@1"] == pytest.approx(0.5)
    assert m["rankers"]["given"]["metrics_answerable"]["Recall@1"] == pytest.approx(1.0)
    report = (tmp_path / "ev" / "report.md").read_text()
    assert "1 of the 2 judged questions have no gold passage among their candidates" in report


# --- 4. non-UTF-8 input ---------------------------------------------------------------------------


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


# --- 6. outputs follow the umask ------------------------------------------------------------------


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


# --- 7, 8, 9. models -------------------------------------------------------------------------------


def test_adapter_folder_without_weights(tmp_path):
    ad = tmp_path / "adapter"
    ad.mkdir()
    (ad / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": "smollm2-135m",
                                                         "peft_type": "LORA"}))
    cands = write_jsonl(tmp_path / "c.jsonl", [{"qid": "1", "question": "q", "passages": [{"pid": "p", "text": "t"}]}])
    one_line_error(cli("rerank", "--model", ad, "--input", cands, "--out", tmp_path / "r.jsonl"),
                   "adapter_config.json but no adapter weights")
    assert not (tmp_path / "r.jsonl").exists()


def test_hub_names_fail_fast_offline_and_without_network(tmp_path):
    cands = write_jsonl(tmp_path / "c.jsonl", [{"qid": "1", "question": "q", "passages": [{"pid": "p", "text": "t"}]}])
    base = ["rerank", "--input", cands, "--out", tmp_path / "r.jsonl", "--model"]
    cache = dict(HF_HOME=str(tmp_path / "hf"), HF_HUB_CACHE=str(tmp_path / "hf" / "hub"))
    t0 = time.time()
    res = run_cli(*base, "gpt2", HF_HUB_OFFLINE="1", **cache)  # a hub name without an org is a hub name
    assert res.returncode == 2 and res.stderr.strip().splitlines() == [
        "error: unknown model 'gpt2': not a local folder, and not in the local hub cache "
        "(HF_HUB_OFFLINE is set: nothing is downloaded)"]
    t_offline = time.time() - t0  # a CLI start that stops at the first check: the baseline of this machine now
    t1 = time.time()
    res = run_cli(*base, "nobody-here/no-such-model", HF_HUB_OFFLINE="0", HF_ENDPOINT="http://127.0.0.1:9",
                  **cache)
    lines = res.stderr.strip().splitlines()
    assert res.returncode == 2 and len(lines) == 1 and "cannot reach the hub" in lines[0], res.stderr
    # one reachability check, no retries with back-off (those take minutes): at most a few CLI starts'
    # worth of time, relative to the baseline measured just above (a loaded machine slows both)
    assert time.time() - t1 < 3 * t_offline + 20
    assert not (tmp_path / "r.jsonl").exists()


def test_resolve_model_hub_names():
    from rankrag_lite.modeling.loading import resolve_model

    for bad in ("a/b/c", "../x", "has space"):
        with pytest.raises(RankragError, match="unknown model"):
            resolve_model(bad)


def test_max_length_above_the_model_context_is_capped(tiny_model_path, capsys):
    from transformers import AutoConfig

    from rankrag_lite.modeling.loading import check_max_length

    cfg = AutoConfig.from_pretrained(tiny_model_path)
    ctx = cfg.max_position_embeddings
    assert check_max_length(cfg, ctx) == ctx
    assert check_max_length(cfg, 12000) == ctx
    assert f"--max-length 12000 is above the model's context of {ctx} tokens" in capsys.readouterr().err


@pytest.mark.slow
def test_rerank_caps_max_length(tmp_path):
    cands = write_jsonl(tmp_path / "c.jsonl", [{"qid": "1", "question": "who wrote hamlet", "passages": [
        {"pid": "d1", "text": DOCS[0]["text"]}, {"pid": "d2", "text": DOCS[1]["text"]}]}])
    res = cli("rerank", "--model", "smollm2-135m", "--input", cands, "--out", tmp_path / "r.jsonl",
              "--max-length", "12000")
    assert res.exit_code == 0, res.output
    assert "--max-length 12000 is above the model's context of 8192 tokens" in res.output
    assert len(read_jsonl(tmp_path / "r.jsonl")) == 1


# --- 10. leftovers of a finetune that fails while loading -----------------------------------------


def test_finetune_failing_while_loading_leaves_no_work_folder(tmp_path):
    from rankrag_lite.training.finetune import finetune
    from rankrag_lite.training.config import stage_config

    broken = tmp_path / "broken-model"
    broken.mkdir()
    (broken / "config.json").write_text(json.dumps({"model_type": "llama"}))  # no weights, no tokenizer
    rec = {"finetune": {"backend": "hf", "model": str(broken), "stage2": {"max_steps": 1}}}
    cfg = stage_config(rec, 2, data=str(FIX / "blend_tiny.jsonl"))
    with pytest.raises(Exception):
        finetune(cfg, tmp_path / "out", recipe=rec)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["broken-model"]


# --- 11. messages count from 1 --------------------------------------------------------------------


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


def test_blend_summary_shows_blend_and_part_counts():
    from rankrag_lite.cli.blend_cmd import blend_counts

    manifest = {"parts": {"sft": {"count": 2000}, "ranking": {"count": 40}},
                "blend": {"entries": [{"part": "sft", "used": 29}, {"part": "ranking", "used": 30},
                                      {"part": "ranking", "used": 10}]}}
    assert blend_counts(manifest) == "sft 29/2000, ranking 40/40"


# --- 13. progress in a log file --------------------------------------------------------------------


def test_plain_progress_lines_when_stderr_is_not_a_terminal(monkeypatch, capsys):
    from rankrag_lite import progress

    monkeypatch.setenv("RANKRAG_LITE_QUIET", "0")
    monkeypatch.setenv("RANKRAG_LITE_PROGRESS_EVERY", "3600")
    p = progress.make_progress()
    assert isinstance(p, progress.PlainProgress)  # pytest's stderr is not a terminal
    with p:
        t = p.add_task("Scoring", total=50, info="")
        for _ in range(50):
            p.advance(t)
    lines = capsys.readouterr().err.strip().splitlines()
    # one line per 10% done (the time trigger is an hour away), the last one without "left"
    assert len(lines) == 10, lines
    assert lines[0].startswith("Scoring: 5/50 (10%), ") and "left" in lines[0]
    assert lines[-1].startswith("Scoring: 50/50 (100%), ") and "/s" in lines[-1] and "left" not in lines[-1]


def test_evaluate_checks_every_model_name_before_scoring(tmp_path):
    # a typo in the last --model used to surface only after the models before it had scored the set
    data = Path(__file__).parent / "fixtures" / "inference" / "twowiki_dev20.jsonl"
    res = cli("evaluate", "--data", data, "--limit", "2", "--model", "smollm2-135m",
              "--model", tmp_path / "no-such-run", "--no-answer", "--out", tmp_path / "ev")
    assert res.exit_code == 2, res.output
    assert "no-such-run" in res.output and "loading model" not in res.output
    assert not (tmp_path / "ev").exists()


def test_a_finetune_output_folder_names_its_model(tmp_path):
    from rankrag_lite.modeling.loading import resolve_model

    out = tmp_path / "run"
    (out / "adapter").mkdir(parents=True)
    (out / "adapter" / "adapter_config.json").write_text("{}")
    (out / "adapter" / "adapter_model.safetensors").write_bytes(b"")
    assert resolve_model(out) == str(out / "adapter")
    (out / "merged").mkdir()
    (out / "merged" / "config.json").write_text("{}")
    assert resolve_model(out) == str(out / "merged")  # merged first, as finetune --model takes it
    with pytest.raises(RankragError, match="not a model folder"):
        resolve_model(tmp_path)
