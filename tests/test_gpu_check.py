"""scripts/gpu_check.py, the GPU check's Python side, run whole on CPU at toy size: everything in it
but CUDA (Unsloth's 4-bit load through its CPU path, QLoRA through both backends, the 16-bit merge
checked by hand, 4-bit vs 16-bit P(True)), fed the tokenizer folder exactly as the GPU machine gets it
(packed and unpacked by scripts/gpu_bundle.py, the code gpu_wheels.sh and gpu_check.sh call). Also:
the "Unsloth ran" detection against the messages rendered from Unsloth's own source, and the check's
children dying with it under a real ``timeout``. The shell wrappers are syntax-checked."""

from __future__ import annotations

import ast
import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import types
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ROOT / "scripts"


def load_script(name: str):
    spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


gpu_check = load_script("gpu_check")


@pytest.mark.parametrize("script", ["gpu_check.sh", "gpu_wheels.sh"])
def test_gpu_shell_scripts_are_valid_bash(script):
    subprocess.run(["bash", "-n", str(SCRIPTS / script)], check=True)


@pytest.mark.parametrize("script, verb", [("gpu_wheels.sh", "pack"), ("gpu_check.sh", "unpack")])
def test_shell_scripts_use_the_shared_bundle_code(script, verb):
    text = (SCRIPTS / script).read_text()
    assert f"scripts/gpu_bundle.py {verb} " in text
    assert "gzip" not in text.replace("gzipped", "")  # no second, drifting copy of the layout


def gpu_tokenizer(src: str, tmp_path: Path) -> Path:
    """The tokenizer folder gpu_check.py gets on the GPU machine: packed as gpu_wheels.sh packs it into
    .whl/b, unpacked as gpu_check.sh unpacks it into .gpu-site, through the same command lines."""
    bundle = tmp_path / "whl" / "b" / "llama3-8b-tokenizer"
    site = tmp_path / "gpu-site" / "llama3-8b-tokenizer"
    for verb, a, b in (("pack", src, bundle), ("unpack", bundle, site)):
        subprocess.run([sys.executable, str(SCRIPTS / "gpu_bundle.py"), verb, str(a), str(b)], check=True)
    return site


def test_bundle_layout_is_a_bare_tokenizer_that_loads(tiny_model_path, tmp_path):
    from transformers import AutoTokenizer

    site = gpu_tokenizer(tiny_model_path, tmp_path)
    bundle = tmp_path / "whl" / "b" / "llama3-8b-tokenizer"
    assert (bundle / "tokenizer.json.gz").is_file() and not (bundle / "tokenizer.json").exists()
    assert not (site / "config.json").exists() and not (site / "tokenizer.json.gz").exists()
    assert (site / "tokenizer.json").read_bytes() == (Path(tiny_model_path) / "tokenizer.json").read_bytes()
    # the kit's model resolver refuses this folder (the failure the first GPU run would have met) ...
    from rankrag_lite.errors import RankragError
    from rankrag_lite.modeling.loading import load_tokenizer

    with pytest.raises(RankragError):
        load_tokenizer(str(site))
    # ... the check loads it as the tokenizer it is
    tok = gpu_check.load_bare_tokenizer(str(site))
    ref = AutoTokenizer.from_pretrained(tiny_model_path)
    assert tok("Is the passage relevant? True").input_ids == ref("Is the passage relevant? True").input_ids


def test_bundle_pack_refuses_a_folder_without_a_tokenizer(tmp_path):
    res = subprocess.run([sys.executable, str(SCRIPTS / "gpu_bundle.py"), "pack", str(tmp_path), str(tmp_path / "b")],
                         capture_output=True, text=True)
    assert res.returncode != 0 and "no tokenizer_config.json" in res.stderr
    assert not (tmp_path / "b").exists()


class _Names(dict):
    """Names for an f-string taken from Unsloth's source: the given ones, else a placeholder."""

    def __missing__(self, key):
        return {"chr": chr, "len": len, "str": str, "type": type}.get(key, f"<{key}>")


def render_unsloth_fstring(relpath: str, contains: str, **names) -> str:
    """The message an f-string in the installed unsloth / unsloth_zoo prints, rendered with ``names``."""
    spec = importlib.util.find_spec(relpath.split("/")[0])
    path = Path(spec.submodule_search_locations[0]).parent / relpath
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.JoinedStr):
            literal = "".join(v.value for v in node.values if isinstance(v, ast.Constant))
            if contains in literal:
                code = compile(ast.Expression(body=node), str(path), "eval")
                return eval(code, {"__builtins__": {}}, _Names(names))  # noqa: S307 (Unsloth's own f-string)
    raise AssertionError(f"{contains!r} is no longer in {path}: read Unsloth's source again")


@pytest.mark.unsloth
def test_unsloth_ran_is_detected_from_what_unsloth_prints_on_cuda():
    import torch

    pytest.importorskip("unsloth", reason="needs unsloth's source (make setup installs it)")
    banner = render_unsloth_fstring(
        "unsloth/models/llama.py", "patching. Transformers: ", __version__="2026.10.9",
        model_patcher=type("FastLlamaModel", (), {}), transformers_version="5.17.0", vllm_version="",
        gpu_stats_name="GPU: NVIDIA H100 80GB HBM3. ", DEVICE_COUNT=1, max_memory=79.19, platform_system="Linux",
        torch=torch, gpu_stats_snippet="CUDA: 9.0. CUDA Toolkit: 13.0.", triton_version="3.5.0",
        SUPPORTS_BFLOAT16=True, xformers_version="None", HAS_FLASH_ATTENTION=False)
    layers = types.SimpleNamespace(model=types.SimpleNamespace(model=types.SimpleNamespace(layers=[0] * 16)))
    patched = render_unsloth_fstring("unsloth/models/llama.py", " QKV layers, ", __version__="2026.10.9",
                                     model=layers, n_qkv=16, n_o=16, n_mlp=16, unfused_reason="")
    cpu_line = render_unsloth_fstring("unsloth_zoo/cpu/loader.py", ", 4-bit = ", model=object(), torch=torch,
                                      dtype=torch.float32, use_4bit=True, chunked=True)

    cuda_log = f"some output\n{banner}\nUnsloth: more\n{patched}\n{{'loss': 2.1}}\n"
    ev = gpu_check.unsloth_evidence(cuda_log)
    assert ev["cuda_banner"] and ev["version"] == "2026.10.9" and ev["patcher"] == "Llama"
    assert ev["patched_layers"] == 16 and ev["fused_lora_layers"] == 48
    assert gpu_check.unsloth_ran(ev, on_cuda=True)
    # the banner alone (no fused LoRA kernels) or another patcher is not enough on CUDA
    assert not gpu_check.unsloth_ran(gpu_check.unsloth_evidence(banner), on_cuda=True)
    assert not gpu_check.unsloth_ran(gpu_check.unsloth_evidence(cuda_log.replace("Fast Llama", "Fast Qwen2")), True)
    no_fused = patched.replace("with 16 QKV layers, 16 O layers and 16 MLP", "with 0 QKV layers, 0 O layers and 0 MLP")
    assert not gpu_check.unsloth_ran(gpu_check.unsloth_evidence(banner + "\n" + no_fused), on_cuda=True)
    # the CPU loader's line, the only thing the old check looked for, does not pass on CUDA
    assert not gpu_check.unsloth_ran(gpu_check.unsloth_evidence(cpu_line), on_cuda=True)
    assert gpu_check.unsloth_ran(gpu_check.unsloth_evidence(cpu_line), on_cuda=False)
    assert not gpu_check.unsloth_ran(gpu_check.unsloth_evidence(cpu_line.replace("4-bit = True", "4-bit = False")),
                                     on_cuda=False)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie still answers kill(0): count it dead
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


# a stand-in for `finetune`: a child that starts a grandchild (as a trainer starts compile or data
# workers), writes both pids, and sleeps far past any budget
CHILD = """
import os, subprocess, sys, time
grand = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
open(sys.argv[1], "w").write(f"{os.getpid()} {grand.pid}")
time.sleep(120)
"""


def _pids(path: Path, within_s: float = 30.0) -> list[int]:
    end = time.time() + within_s
    while time.time() < end:
        if path.exists() and len(path.read_text().split()) == 2:
            return [int(p) for p in path.read_text().split()]
        time.sleep(0.1)
    raise AssertionError("the child never started")


def _all_gone(pids: list[int], within_s: float = 20.0) -> bool:
    end = time.time() + within_s
    while time.time() < end:
        if not any(_alive(p) for p in pids):
            return True
        time.sleep(0.2)
    return False


def test_timeout_on_the_check_kills_its_finetune_children(tmp_path):
    """`timeout` signals gpu_check.py; its children (own process group) and theirs die with it."""
    if shutil.which("timeout") is None:
        pytest.skip("coreutils `timeout` is not installed here")
    pids_file = tmp_path / "pids"
    driver = (f"import importlib.util, sys\n"
              f"spec = importlib.util.spec_from_file_location('gc', {str(SCRIPTS / 'gpu_check.py')!r})\n"
              f"gc = importlib.util.module_from_spec(spec); spec.loader.exec_module(gc)\n"
              f"gc.install_stop_handlers()\n"
              f"gc.run_group([sys.executable, '-c', {CHILD!r}, {str(pids_file)!r}], timeout_s=300)\n")
    proc = subprocess.Popen(["timeout", "--kill-after=30", "8", sys.executable, "-c", driver])
    pids = _pids(pids_file)
    # the children run in their own session: not in the group `timeout` signals
    assert os.getpgid(pids[0]) == pids[0] != os.getpgid(proc.pid)
    rc = proc.wait(timeout=60)
    assert rc == 124  # timed out, and gpu_check.py exited on the SIGTERM (not the SIGKILL 30 s later)
    assert _all_gone(pids), [p for p in pids if _alive(p)]


def test_a_child_past_its_share_of_the_budget_is_killed_with_its_group(tmp_path):
    pids_file = tmp_path / "pids"
    t0 = time.time()
    rc, _out, _err = gpu_check.run_group([sys.executable, "-c", CHILD, str(pids_file)], timeout_s=4)
    assert rc is None and time.time() - t0 < 30
    assert _all_gone(_pids(pids_file))


def test_a_finished_child_leaves_no_grandchild_behind(tmp_path):
    pids_file = tmp_path / "pids"
    quick = CHILD[: CHILD.rfind("time.sleep(120)")]  # the child exits at once, its grandchild sleeps on
    rc, _out, _err = gpu_check.run_group([sys.executable, "-c", quick, str(pids_file)], timeout_s=60)
    assert rc == 0
    assert _all_gone(_pids(pids_file))


@pytest.mark.slow
@pytest.mark.unsloth
def test_gpu_check_runs_on_cpu_at_toy_size(tiny_model_path, tmp_path):
    out = tmp_path / "gc"
    tokenizer = gpu_tokenizer(tiny_model_path, tmp_path)  # exactly the layout the GPU machine gets
    env = dict(os.environ, RANKRAG_LITE_QUIET="1", HF_HUB_OFFLINE="1",
               PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    res = subprocess.run(
        [sys.executable, str(SCRIPTS / "gpu_check.py"), "--tokenizer", str(tokenizer),
         "--out", str(out), "--hidden", "64", "--layers", "2", "--heads", "4", "--kv-heads", "2",
         "--intermediate", "128", "--steps", "2", "--hf-steps", "2", "--batch", "2",
         "--max-length", "1024", "--limit", "8", "--budget-s", "800"],
        env=env, capture_output=True, text=True, timeout=900,
    )
    assert res.returncode == 0 and res.stdout.rstrip().endswith("RESULT: PASS"), res.stdout[-3000:] + res.stderr[-3000:]
    summary = json.loads((out / "gpu_check.json").read_text())
    assert summary["checks"] == {k: True for k in ("unsloth_ran", "unsloth_loss_fell", "hf_ran", "merged_16bit",
                                                   "merge_equals_base16_plus_BA", "p_true_agreement")}
    assert summary["unsloth"]["unsloth_evidence"]["cpu_path_4bit"] is True
    assert summary["model"]["num_key_value_heads"] == 2 and summary["merged_dtype"] == "bfloat16"
    assert 0 < summary["merge_max_abs_error"] <= summary["merge_max_abs_weight"] / 256
    assert summary["unsloth"]["tokens_per_s"] > 0 and summary["hf"]["tokens_per_s"] > 0
    assert (out / "finetune-unsloth.log").is_file() and summary["budget_s"] == 800
