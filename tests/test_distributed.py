"""Scoring on Ray (rankrag_lite/ranking/distributed.py): a real cluster, no mocks.

The module fixture starts a real Ray head as separate processes (``ray start --head --num-cpus 2
--port PORT``) and stops it with ``ray stop`` (also when a test fails). ``rerank --ray`` with 2 actors
must give the local run's outputs (the same shards: ``--shard-passages``), a killed actor must not
change them, ``evaluate --ray`` and ``calibrate --ray`` the local metrics and fit. Inputs are tiny (the
tiny model scores a few passages a second on a shared core).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from inference_helpers import DL19, DL19_QRELS, TWOWIKI, candidates_from_twowiki

REPO = Path(__file__).resolve().parents[1]
PORT = 26391  # fixed: the cluster the tests start
RAY_BIN = Path(sys.executable).with_name("ray")
CLI = [sys.executable, "-m", "rankrag_lite"]


def _env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), *filter(None, [env.get("PYTHONPATH")])])
    env["RANKRAG_LITE_PROGRESS_EVERY"] = "0"
    env["RANKRAG_LITE_QUIET"] = "0"  # progress lines and the resume notice are checked
    # the cluster and its clients agree on Ray's token authentication whatever this machine holds: a
    # ~/.ray/auth_token left by another Ray (ray get-auth-token --generate) made them disagree here
    env["RAY_AUTH_MODE"] = "disabled"
    return env


def _ray_stop() -> None:
    subprocess.run([str(RAY_BIN), "stop", "--force"], env=_env(), capture_output=True, timeout=120)


@pytest.fixture(scope="module")
def cluster():
    pytest.importorskip("ray", reason="the [ray] extra is not installed (make setup installs it)")
    started = subprocess.run([str(RAY_BIN), "start", "--head", "--num-cpus", "2", "--port", str(PORT),
                              "--include-dashboard=false", "--disable-usage-stats"],
                             env=_env(), capture_output=True, text=True, timeout=180)
    try:
        assert started.returncode == 0, started.stderr[-2000:]
        yield f"127.0.0.1:{PORT}"
    finally:
        _ray_stop()


def run(*args, check: bool = True) -> subprocess.CompletedProcess:
    res = subprocess.run([*CLI, *map(str, args)], env=_env(), capture_output=True, text=True, timeout=900)
    if check:
        assert res.returncode == 0, res.stderr[-3000:]
    return res


@pytest.fixture(scope="module")
def pools(tmp_path_factory) -> Path:
    return candidates_from_twowiki(tmp_path_factory.mktemp("ray") / "cands.jsonl", n=3, passages=4, max_chars=100)


@pytest.fixture(scope="module")
def local_rerank(pools) -> Path:
    out = pools.parent / "local" / "reranked.jsonl"
    run("rerank", "--model", "smollm2-135m", "--input", pools, "--out", out, "--shard-passages", 4)
    return out


def _records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _same_rerank(got: Path, want: Path) -> None:
    g, w = _records(got), _records(want)
    assert [r["qid"] for r in g] == [r["qid"] for r in w]
    for a, b in zip(g, w):
        assert [p["pid"] for p in a["passages"]] == [p["pid"] for p in b["passages"]]
        for pa, pb in zip(a["passages"], b["passages"]):
            assert abs(pa["rerank_score"] - pb["rerank_score"]) < 1e-5
    assert got.with_suffix(".trec").read_text() == want.with_suffix(".trec").read_text()
    assert got.read_bytes() == want.read_bytes()  # no timing fields in a reranked file: byte for byte
    assert not (got.parent / f".{got.name}.ray").exists()  # the shards go once the outputs are in place


@pytest.mark.slow
def test_rerank_on_ray_gives_the_local_outputs(cluster, pools, local_rerank, tmp_path):
    out = tmp_path / "reranked.jsonl"
    res = run("rerank", "--model", "smollm2-135m", "--input", pools, "--out", out, "--shard-passages", 4,
              "--ray", cluster, "--ray-actors", 2)
    assert "Reranking on Ray: 12/12" in res.stderr
    _same_rerank(out, local_rerank)


def _actor_pids() -> list[int]:
    import psutil

    pids = []
    for p in psutil.process_iter(["pid", "cmdline"]):
        cmd = " ".join(p.info["cmdline"] or [])
        if cmd.startswith("ray::") and "_ShardScorer" in cmd:
            pids.append(p.info["pid"])
    return pids


@pytest.mark.slow
def test_a_killed_actor_changes_nothing(cluster, pools, local_rerank, tmp_path):
    """Kill one scoring actor's process mid-run: Ray restarts it and retries its shard (or the run
    fails with one line and a rerun resumes from the shards written); either way the same outputs.

    The actor is killed as soon as its process shows up: from then on it is loading its model (in its
    constructor) or scoring a shard, both mid-run. Waiting for a shard file first lost the race on a
    fast machine, where the 12 passages were scored within a few milliseconds of the model's load."""
    out = tmp_path / "reranked.jsonl"
    args = [*CLI, "rerank", "--model", "smollm2-135m", "--input", str(pools), "--out", str(out),
            "--shard-passages", "4", "--ray", cluster, "--ray-actors", "2"]
    proc = subprocess.Popen(args, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    killed = None
    deadline = time.time() + 600
    while killed is None and proc.poll() is None and time.time() < deadline:
        pids = _actor_pids()
        if pids:
            killed = pids[0]
            os.kill(killed, signal.SIGKILL)
        time.sleep(0.02)
    _, err = proc.communicate(timeout=900)
    assert killed is not None, f"the run ended before an actor could be killed: {err[-2000:]}"
    if proc.returncode != 0:  # Ray gave up: one line, no outputs, and the rerun resumes
        lines = [ln for ln in err.splitlines() if ln.startswith("error:")]
        assert len(lines) == 1, err[-2000:]
        assert not out.exists()
        res = run(*args[3:])
        assert "resuming:" in res.stderr
    _same_rerank(out, local_rerank)


@pytest.mark.slow
def test_evaluate_and_calibrate_on_ray_give_the_local_results(cluster, tmp_path):
    common = ["--data", DL19, "--qrels", DL19_QRELS, "--model", "smollm2-135m", "--limit", 2]
    ev = ["evaluate", *common, "--depth", 3, "--rankers", "given", "--no-answer"]
    run(*ev, "--out", tmp_path / "local")
    run(*ev, "--out", tmp_path / "ray", "--ray", cluster, "--ray-actors", 2, "--shard-passages", 2)
    local = json.loads((tmp_path / "local" / "metrics.json").read_text())
    ray = json.loads((tmp_path / "ray" / "metrics.json").read_text())
    assert ray == local
    assert (tmp_path / "ray" / "per_question.jsonl").read_text() == (tmp_path / "local" / "per_question.jsonl").read_text()
    assert not (tmp_path / ".ray.ray").exists()

    # 2Wiki: the fitting half (questions 1-2) holds relevant and non-relevant passages among its first 3
    cal = ["calibrate", "--data", TWOWIKI, "--model", "smollm2-135m", "--limit", 4, "--passages", 3]
    run(*cal, "--out", tmp_path / "cal-local.json")
    run(*cal, "--out", tmp_path / "cal-ray.json", "--ray", cluster, "--ray-actors", 2, "--shard-passages", 3)
    assert not (tmp_path / ".cal-ray.json.ray").exists()
    a, b = (json.loads((tmp_path / f).read_text()) for f in ("cal-local.json", "cal-ray.json"))
    assert abs(a["temperature"] - b["temperature"]) < 1e-4 and abs(a["bias"] - b["bias"]) < 1e-4
    for when in ("before", "after"):
        assert a["fit"]["heldout"][when] == pytest.approx(b["fit"]["heldout"][when], abs=1e-5)


@pytest.mark.slow
def test_a_model_no_worker_can_load_is_one_line(cluster, pools, tmp_path):
    bad = tmp_path / "broken-model"
    bad.mkdir()
    (bad / "config.json").write_text('{"model_type": "llama"}')  # a folder the driver accepts, no weights
    out = tmp_path / "reranked.jsonl"
    res = run("rerank", "--model", bad, "--input", pools, "--out", out, "--ray", cluster, check=False)
    assert res.returncode == 2, res.stderr[-2000:]
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert lines[-1].startswith("error: "), res.stderr[-2000:]
    assert len([ln for ln in lines if ln.startswith("error:")]) == 1
    assert "Traceback" not in res.stderr
    assert not out.exists() and not out.with_suffix(".trec").exists()


def test_an_unreachable_cluster_is_one_line(pools, tmp_path):
    pytest.importorskip("ray", reason="the [ray] extra is not installed (make setup installs it)")
    out = tmp_path / "reranked.jsonl"
    res = run("rerank", "--model", "smollm2-135m", "--input", pools, "--out", out, "--ray", "127.0.0.1:1",
              check=False)
    assert res.returncode == 2
    assert res.stderr.strip().splitlines()[-1].startswith("error: cannot reach the Ray cluster at 127.0.0.1:1")
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # nothing written, not even the shard folder


def test_the_local_path_never_imports_ray():
    code = ("import sys\n"
            "import rankrag_lite.cli, rankrag_lite.ranking.rerank, rankrag_lite.ranking.distributed\n"
            "import rankrag_lite.evaluation.runner, rankrag_lite.ranking.calibration, rankrag_lite.evaluation.calibration\n"
            "assert 'ray' not in sys.modules, 'ray imported'\n")
    subprocess.run([sys.executable, "-c", code], env=_env(), check=True, timeout=300)
