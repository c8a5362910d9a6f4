"""rankrag_lite.cli (common.guard, main): every failure a user meets is one ``error:`` line and exit 2.

OS-level errors on a user's path (a folder as --input, a bad or cut-short gzip, a full disk on a real
tmpfs, an adapter config that is not JSON), duplicate question ids, an output that overlaps an input,
an option given twice, a model folder a running command writes, Typer's usage errors; and a signal:
SIGTERM / SIGKILL to a real ``rerank`` process leave nothing once the next run has started, SIGINT to
``finetune`` says how to resume. Data: tiny hand-written files and tests/fixtures.
"""

from __future__ import annotations

import gzip
import json
import signal
import subprocess
import time
from pathlib import Path

import pytest

from cli_helpers import cli, cli_argv, env, fill, one_line_error, run_cli, write_jsonl
from inference_helpers import candidates_from_twowiki
from small_corpus import DOCS

FIX = Path(__file__).parent / "fixtures"
BLEND_DATA = FIX / "blend_data"


def cands(qid: str = "q1", question: str = "who wrote hamlet") -> dict:
    return {"qid": qid, "question": question, "answers": ["Shakespeare"],
            "passages": [{"pid": d["id"], "title": d["title"], "text": d["text"], "is_gold": d["id"] == "d1"}
                         for d in DOCS]}


# --- OS-level errors on a user's path -----------------------------------------------------------------


@pytest.mark.parametrize("command", ["rerank", "answer"])
def test_a_folder_as_input(command, tmp_path):
    res = cli(command, "--model", "smollm2-135m", "--input", tmp_path, "--out", tmp_path.parent / "o.jsonl")
    one_line_error(res, str(tmp_path), "is a directory")


def _gz_inputs(tmp_path, corpus) -> dict:
    plain = write_jsonl(tmp_path / "plain.jsonl", [cands(f"q{i}") for i in range(40)]).read_bytes()
    (tmp_path / "notgz.jsonl.gz").write_bytes(plain)
    whole = gzip.compress(plain)
    (tmp_path / "cut.jsonl.gz").write_bytes(whole[: len(whole) // 2])
    docs = gzip.compress(corpus.read_bytes() * 1)
    (tmp_path / "cutcorpus.jsonl.gz").write_bytes(docs[: len(docs) - 12])
    (tmp_path / "notgzcorpus.jsonl.gz").write_bytes(corpus.read_bytes())
    return {"rerank": ["rerank", "--model", "smollm2-135m", "--out", tmp_path / "r.jsonl", "--input"],
            "evaluate": ["evaluate", "--rankers", "given", "--out", tmp_path / "ev", "--data"],
            "index": ["index", "--out", tmp_path / "idx", "--corpus"]}


@pytest.mark.parametrize("command", ["rerank", "evaluate", "index"])
def test_bad_and_truncated_gzip_name_the_file(command, tmp_path, corpus):
    args = _gz_inputs(tmp_path, corpus)[command]
    cut, notgz = ("cutcorpus", "notgzcorpus") if command == "index" else ("cut", "notgz")
    one_line_error(cli(*args, tmp_path / f"{cut}.jsonl.gz"), f"{cut}.jsonl.gz: truncated gzip file")
    one_line_error(cli(*args, tmp_path / f"{notgz}.jsonl.gz"), f"{notgz}.jsonl.gz: not a valid gzip file")
    assert not any(p.name.startswith((".r.", ".ev", ".idx", "r.", "ev", "idx")) for p in tmp_path.iterdir())


def test_a_full_disk_is_one_line_and_earlier_outputs_survive(small_disk, tmp_path, corpus):
    index = tmp_path / "idx"
    assert cli("index", "--corpus", corpus, "--out", index).exit_code == 0
    queries = write_jsonl(tmp_path / "q.jsonl", [{"qid": f"q{i}", "question": f"who wrote hamlet {i}"}
                                                 for i in range(60)])
    data = write_jsonl(tmp_path / "cands.jsonl", [cands(f"q{i}") for i in range(60)])
    recipe = tmp_path / "blend.yaml"
    recipe.write_text((FIX / "smoke-recipe.yaml").read_text().replace("size: 120", "size: 40"))
    runs = {"retrieve": ["retrieve", "--index", index, "--queries", queries, "--out", small_disk / "c.jsonl"],
            "evaluate": ["evaluate", "--data", data, "--rankers", "given", "--out", small_disk / "report"],
            "build-blend": ["build-blend", "--recipe", recipe, "--data-root", BLEND_DATA, "--out",
                            small_disk / "blend"]}
    (small_disk / "c.jsonl").write_text("earlier\n")
    (small_disk / "report").mkdir()
    (small_disk / "report" / "metrics.json").write_text("{}\n")
    fill(small_disk)
    for name, args in runs.items():
        one_line_error(cli(*args), f"{args[-1]}", "no space left on device")
    assert (small_disk / "c.jsonl").read_text() == "earlier\n"
    assert (small_disk / "report" / "metrics.json").read_text() == "{}\n"
    assert sorted(p.name for p in small_disk.iterdir()) == ["c.jsonl", "filler", "report"]


def test_an_adapter_config_that_is_not_json(tmp_path, corpus):
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text("{not json")
    (adapter / "adapter_model.safetensors").write_bytes(b"")
    data = write_jsonl(tmp_path / "cands.jsonl", [cands()])
    res = cli("rerank", "--model", adapter, "--input", data, "--out", tmp_path / "r.jsonl")
    one_line_error(res, f"{adapter / 'adapter_config.json'}: not valid JSON")


# --- inputs and outputs ----------------------------------------------------------------------------------


def test_duplicate_question_ids_are_refused_by_every_command(tmp_path, corpus):
    dup = write_jsonl(tmp_path / "dup.jsonl", [cands("q1"), cands("q2", "where is paris"), cands("q1")])
    queries = write_jsonl(tmp_path / "dupq.jsonl", [{"qid": "a", "question": "x"}, {"qid": "a", "question": "y"}])
    questions = write_jsonl(tmp_path / "dupqa.jsonl", [{"id": "a", "question": "x", "answers": ["1"]},
                                                       {"id": "a", "question": "y", "answers": ["2"]}])
    assert cli("index", "--corpus", corpus, "--out", tmp_path / "idx").exit_code == 0
    for args, where in [
        (["rerank", "--model", "smollm2-135m", "--input", dup, "--out", tmp_path / "r.jsonl"], dup),
        (["answer", "--model", "smollm2-135m", "--input", dup, "--out", tmp_path / "a.jsonl", "--k", "1"], dup),
        (["evaluate", "--data", dup, "--rankers", "given", "--out", tmp_path / "ev"], dup),
        (["retrieve", "--index", tmp_path / "idx", "--queries", queries, "--out", tmp_path / "c.jsonl"], queries),
        (["rag", "--index", tmp_path / "idx", "--model", "smollm2-135m", "--questions", questions,
          "--out", tmp_path / "rag"], questions),
    ]:
        one_line_error(cli(*args), f"{where}: duplicate", "'q1'" if where == dup else "'a'")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corpus.jsonl", "dup.jsonl", "dupq.jsonl",
                                                           "dupqa.jsonl", "idx"]


def test_outputs_apart_from_inputs(tmp_path, corpus):
    data = write_jsonl(tmp_path / "cands.jsonl", [cands()])
    beir = tmp_path / "beir"
    beir.mkdir()
    m = ["--model", "smollm2-135m"]
    one_line_error(cli("rerank", *m, "--input", data, "--out", data), "--out", "is also the input --input")
    one_line_error(cli("rerank", *m, "--input", data, "--out", tmp_path / "r.jsonl", "--run", tmp_path / "r.jsonl"),
                   "--out and --run are the same file")
    trec = tmp_path / "bm25.trec"  # rerank's default --run (OUT with .trec) would replace a TREC input
    trec.write_text("q1 Q0 d1 1 1.0 bm25\n")
    one_line_error(cli("rerank", *m, "--input", trec, "--corpus", tmp_path / "corpus.jsonl", "--queries", data,
                       "--out", tmp_path / "bm25.jsonl"), f"--run {trec} is also the input --input")
    trec.unlink()
    one_line_error(cli("index", "--corpus", beir, "--out", beir / "idx"), "is inside the input folder --corpus")
    one_line_error(cli("evaluate", "--data", data, "--rankers", "given", "--out", tmp_path),
                   "is inside the output --out", "which this command replaces")
    assert data.read_text().startswith('{"qid": "q1"')
    assert sorted(p.name for p in tmp_path.iterdir()) == ["beir", "cands.jsonl", "corpus.jsonl"]


def test_merge_writes_inside_its_run_folder_by_design(tmp_path):
    run = tmp_path / "ft"
    run.mkdir()
    for args in (["merge", run, "--out", run / "merged"], ["merge", "--adapter", run, "--out", run / "merged"]):
        one_line_error(cli(*args), f"{run} holds no LoRA adapter")  # not refused as "inside the input folder"


def test_evaluate_refuses_the_same_model_or_run_twice(tmp_path):
    data = write_jsonl(tmp_path / "cands.jsonl", [cands()])
    run = tmp_path / "a.trec"
    run.write_text("q1 Q0 d1 1 1.0 x\n")
    one_line_error(cli("evaluate", "--data", data, "--out", tmp_path / "ev", "--model", "m", "--model", "m"),
                   "--model m given twice")
    one_line_error(cli("evaluate", "--data", data, "--out", tmp_path / "ev", "--run", f"a={run}",
                       "--run", f"b={run}"), "already given by another --run")


def test_a_model_folder_being_written_by_a_running_finetune(tmp_path):
    from cli_helpers import Holder

    model = tmp_path / "ft"
    (model / "adapter").mkdir(parents=True)
    data = write_jsonl(tmp_path / "cands.jsonl", [cands()])
    holder = Holder(model)  # a real process owning the folder, as a running finetune does
    try:
        for name in (model, model / "adapter"):
            res = cli("rerank", "--model", name, "--input", data, "--out", tmp_path / "r.jsonl")
            one_line_error(res, "is being written by a running command", f"pid {holder.pid}")
    finally:
        holder.kill9()


# --- the command line itself (real processes: the `rankrag-lite` entry point) --------------------------


def test_usage_errors_and_an_option_given_twice_are_one_line(tmp_path):
    data = write_jsonl(tmp_path / "cands.jsonl", [cands()])
    base = ["rerank", "--model", "x", "--out", tmp_path / "r.jsonl"]
    for args, needle in [([*base, "--input", data, "--batch-size", "0"], "Invalid value for '--batch-size'"),
                         ([*base], "Missing option '--input'"),
                         ([*base, "--input", data, "--input", data], "--input given 2 times"),
                         ([*base, "--input", data, f"--input={data}"], "--input given 2 times")]:
        res = run_cli(*args, timeout=120)
        assert res.returncode == 2 and res.stdout == "", (res.returncode, res.stdout)
        assert res.stderr.count("\n") == 1 and res.stderr.startswith("error: ") and needle in res.stderr, res.stderr


@pytest.mark.slow
def test_an_error_after_the_model_loads_is_one_line_when_quiet(tmp_path):
    """RANKRAG_LITE_QUIET=1 also silences transformers (its weight-loading bar, tokenizer notices)."""
    data = write_jsonl(tmp_path / "cands.jsonl", [cands()])
    res = run_cli("rerank", "--model", "smollm2-135m", "--input", data, "--out", tmp_path / "r.jsonl",
                  "--min-score", "0.5", timeout=240)  # the tiny model has no calibration: refused once loaded
    assert res.returncode == 2, res.stderr
    assert res.stderr.splitlines() == [line for line in res.stderr.splitlines() if line.startswith("error: ")]
    assert len(res.stderr.splitlines()) == 1, res.stderr


def _wait_for(cond, proc, what: str, timeout: float = 180) -> None:
    end = time.time() + timeout
    while not cond():
        assert proc.poll() is None, f"exited before {what}: {proc.communicate()}"
        assert time.time() < end, f"no {what} after {timeout}s"
        time.sleep(0.2)


@pytest.mark.slow
def test_sigkill_then_sigterm_to_rerank_leave_nothing(tmp_path):
    """A SIGKILLed rerank leaves .part files and lock files; the next run removes them when it starts;
    SIGTERM to that run removes its own and prints one line."""
    data = candidates_from_twowiki(tmp_path / "cands.jsonl", n=8, passages=10, max_chars=None)
    outdir = tmp_path / "out"
    argv = cli_argv("rerank", "--model", "smollm2-135m", "--input", data, "--out", outdir / "r.jsonl")

    def parts() -> set[str]:
        return {p.name for p in outdir.glob(".*.part")} if outdir.exists() else set()

    first = subprocess.Popen(argv, env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _wait_for(lambda: len(parts()) == 2, first, "the .part files")
    first.send_signal(signal.SIGKILL)
    first.wait()
    killed = parts()
    assert len(killed) == 2 and (outdir / ".r.jsonl.lock").exists()

    second = subprocess.Popen(argv, env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _wait_for(lambda: len(parts()) == 2 and not parts() & killed, second, "the second run's .part files")
    second.send_signal(signal.SIGTERM)
    _, err = second.communicate(timeout=60)
    assert second.returncode == 128 + signal.SIGTERM, err
    assert err.strip().splitlines() == ["interrupted (SIGTERM): stopped; no output was left half-written."]
    assert sorted(p.name for p in outdir.iterdir()) == []


@pytest.mark.slow
def test_sigint_to_finetune_says_how_to_resume(tmp_path, tiny_recipe):
    recipe = tiny_recipe(tmp_path / "r.yaml", stage2={"max_steps": 2})
    out = tmp_path / "ft"
    proc = subprocess.Popen(cli_argv("finetune", "--stage", "2", "--recipe", recipe, "--data",
                                     FIX / "blend_tiny.jsonl", "--out", out),
                            env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _wait_for(lambda: (tmp_path / ".ft.lock").exists(), proc, "the output lock")
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    (line,) = err.strip().splitlines()
    assert line.startswith("interrupted (SIGINT)") and "run the same command with --resume" in line, line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.yaml"]  # no lock, no work folder before a checkpoint
