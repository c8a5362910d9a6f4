"""The GPU check (run by ``scripts/gpu_check.sh``); every step also runs on CPU, where CI runs it small.

Steps, each through the kit's own code:
1. a randomly initialised model shaped like Llama 3 (GQA, vocabulary of the tokenizer given: the real
   Llama 3 8B tokenizer on the GPU machine), saved in bf16 (the 16-bit base a user starts from);
2. ``rankrag-lite finetune --backend unsloth`` with ``load_in_4bit`` (Unsloth's 4-bit load, QLoRA
   steps, merge into the original 16-bit weights), then the same steps with ``--backend hf``
   (plain transformers + peft QLoRA) on the same blend: tokens/s and peak VRAM of both;
3. the merge checked by hand on one projection: merged == base16 + scale * B @ A (to bf16 rounding);
4. P(True) of the blend's ranking rows from the merged model in 16 bit and in NF4 4 bit, and their
   Spearman agreement.

Prints one JSON summary (also written to OUT/gpu_check.json) and ``RESULT: PASS`` or ``RESULT: FAIL``.
Usage: python scripts/gpu_check.py --tokenizer DIR --out DIR [--hidden 2048 --layers 16 --steps 30]
       [--budget-s 450]

The tokenizer folder is a bare tokenizer (the bundle ``scripts/gpu_bundle.py`` unpacks: no
``config.json``). Each ``finetune`` runs as a child in its own process group, with a share of the time
budget (the first Unsloth run on a fresh machine spends much of it compiling Triton kernels); a child
past its share, an exception here, or a SIGTERM/SIGINT to this script (``timeout``) kills the child's
whole group, so nothing keeps training on the GPU after the check has ended.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BLEND = ROOT / "tests" / "fixtures" / "blend_tiny.jsonl"
SEVEN = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def make_random_llama(dest: Path, tokenizer: str, *, hidden: int, layers: int, heads: int,
                      kv_heads: int, intermediate: int, seed: int = 0) -> Path:
    """A random Llama-3-shaped model in bf16 with the given (real) tokenizer, written atomically."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from rankrag_lite.io import atomic_dir

    tok = load_bare_tokenizer(tokenizer)
    torch.manual_seed(seed)
    cfg = LlamaConfig(
        vocab_size=len(tok), hidden_size=hidden, intermediate_size=intermediate,
        num_hidden_layers=layers, num_attention_heads=heads, num_key_value_heads=kv_heads,
        max_position_embeddings=8192, rope_theta=500000.0, rms_norm_eps=1e-5, tie_word_embeddings=False,
        bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, dtype="bfloat16",
    )
    device = "cuda" if torch.cuda.is_available() else "cpu"
    with torch.device(device):
        model = LlamaForCausalLM(cfg).to(torch.bfloat16)
    with atomic_dir(dest) as tmp:
        model.save_pretrained(str(tmp), safe_serialization=True)
        tok.save_pretrained(str(tmp))
    return dest


def load_bare_tokenizer(folder: str):
    """The tokenizer in a folder that holds only a tokenizer (the GPU bundle's layout): the kit's
    ``load_tokenizer`` resolves *models* and rightly refuses a folder without ``config.json``."""
    from transformers import AutoTokenizer

    if not (Path(folder) / "tokenizer_config.json").is_file():
        raise SystemExit(f"error: no tokenizer_config.json in {folder}")
    return AutoTokenizer.from_pretrained(folder)


# --- Did Unsloth's own code path run? --------------------------------------------------------------
# Read from unsloth 2026.10.9's source. On CUDA, FastLlamaModel.from_pretrained prints its banner
# (unsloth/models/llama.py: "==((====))==  Unsloth {version}: Fast {Llama} patching. ...") and
# FastLanguageModel.get_peft_model logs "Unsloth {version} patched {n} layers with {q} QKV layers, {o} O
# layers and {m} MLP layers." once it has swapped in its fused LoRA kernels. Its CPU path
# (unsloth_zoo/cpu/loader.py) prints neither, but "... dtype = ..., 4-bit = True, chunked CE = ...".
BANNER = re.compile(r"==\(\(====\)\)==\s+Unsloth (\S+): Fast (\w+) patching")
PATCHED = re.compile(r"Unsloth (\S+) patched (\d+) layers with (\d+) QKV layers, (\d+) O layers and (\d+) MLP layers")
CPU_LOAD = re.compile(r"dtype = \S+, 4-bit = (True|False), chunked CE")


def unsloth_evidence(log: str) -> dict:
    """What a ``finetune --backend unsloth`` log shows of Unsloth's own path (CUDA and CPU)."""
    banner, patched, cpu = BANNER.search(log), PATCHED.search(log), CPU_LOAD.search(log)
    ev = {"cuda_banner": bool(banner), "version": banner.group(1) if banner else None,
          "patcher": banner.group(2) if banner else None, "patched_layers": None, "fused_lora_layers": None,
          "cpu_path_4bit": (cpu.group(1) == "True") if cpu else None}
    if patched:
        ev["patched_layers"] = int(patched.group(2))
        ev["fused_lora_layers"] = sum(int(g) for g in patched.groups()[2:])
    return ev


def unsloth_ran(ev: dict, on_cuda: bool) -> bool:
    """On CUDA: the fast-patching banner and fused LoRA kernels in at least one layer. On CPU (CI):
    Unsloth's CPU loader with the 4-bit load."""
    if on_cuda:
        return ev["cuda_banner"] and ev["patcher"] == "Llama" and (ev["fused_lora_layers"] or 0) > 0
    return ev["cpu_path_4bit"] is True


# --- children in their own process group -----------------------------------------------------------
_children: set[subprocess.Popen] = set()


def kill_group(proc: subprocess.Popen, grace_s: float = 10.0) -> None:
    """SIGTERM to the child's whole process group, SIGKILL to what is left after ``grace_s``."""
    for sig, wait in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            if sig == signal.SIGTERM:  # the leader is gone; its group may not be
                os.killpg(proc.pid, signal.SIGKILL)
            return
        except ProcessLookupError:
            return
        except subprocess.TimeoutExpired:
            continue


def run_group(cmd: list[str], *, timeout_s: float, **popen) -> tuple[int | None, str, str]:
    """(returncode or None when it ran past ``timeout_s``, stdout, stderr) of ``cmd``, run in a new
    session (its own process group, killed whole on timeout or when this process is told to stop)."""
    # output to files, not pipes: a grandchild holding a pipe open would keep us waiting after the child
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, text=True, start_new_session=True, **popen)
        _children.add(proc)
        try:
            proc.wait(timeout=max(1.0, timeout_s))
            rc = proc.returncode
        except subprocess.TimeoutExpired:
            rc = None
        finally:
            kill_group(proc, grace_s=10.0 if proc.returncode is None else 2.0)  # and what it left behind
            _children.discard(proc)
        out.seek(0)
        err.seek(0)
        return rc, out.read(), err.read()


def stop_children(signum, _frame) -> None:
    """SIGTERM / SIGINT handler: the children's groups go with this process."""
    for proc in list(_children):
        kill_group(proc, grace_s=5.0)
    sys.exit(128 + signum)


def install_stop_handlers() -> None:
    signal.signal(signal.SIGTERM, stop_children)
    signal.signal(signal.SIGINT, stop_children)


RECIPE = """\
seed: 0
finetune:
  model: {model}
  max_length: {max_length}
  load_in_4bit: true
  lora: {{r: 16, alpha: 16, dropout: 0.0, target_modules: {targets}}}
  stage2: {{batch_size: {batch}, grad_accum: 1, lr: 2.0e-4, max_steps: {steps}, save_steps: {steps},
           warmup_ratio: 0.0, scheduler: constant, merge: {merge}}}
"""


def finetune(out: Path, recipe: Path, backend: str, timeout_s: float) -> dict:
    """One ``rankrag-lite finetune`` child (its log kept in OUT/../finetune-BACKEND.log)."""
    env = dict(os.environ, RANKRAG_LITE_QUIET="1")
    out = out.resolve()
    t0 = time.time()
    # cwd: the check's folder, where Unsloth writes its compiled cache (unsloth_compiled_cache/)
    rc, stdout, stderr = run_group(
        [sys.executable, "-m", "rankrag_lite", "finetune", "--stage", "2", "--recipe", str(recipe.resolve()),
         "--data", str(BLEND), "--backend", backend, "--out", str(out)],
        timeout_s=timeout_s, env=env, cwd=str(out.parent))
    log = stdout + "\n" + stderr
    (out.parent / f"finetune-{backend}.log").write_text(log)
    wall = round(time.time() - t0, 1)
    if rc is None:
        return {"ok": False, "wall_s": wall,
                "error": f"ran past its {timeout_s:.0f} s share of the budget (killed with its process group)"}
    if rc != 0:
        return {"ok": False, "wall_s": wall, "error": (stderr or stdout).strip().splitlines()[-1:]}
    s = json.loads((out / "summary.json").read_text())
    res = {"ok": True, "backend": s["backend"], "steps": s["global_step"],
           "probe_loss": [s["probe_loss_before"], s["probe_loss_after"]],
           "tokens_per_s": s.get("tokens_per_s_this_run"), "peak_vram_gib": s.get("peak_vram_gib"),
           "train_wall_s": s.get("wall_s_this_run"), "wall_s": wall}
    if backend == "unsloth":
        res["unsloth_evidence"] = unsloth_evidence(log)
    return res


def merge_error(base: Path, run: Path, key: str = "model.layers.0.self_attn.q_proj.weight") -> tuple[float, float]:
    """(max |merged - (base16 + scale * B @ A)|, max |base16 + scale * B @ A|) for one projection, by hand."""
    from safetensors.torch import load_file

    def tensors(folder: Path) -> dict:
        out = {}
        for f in sorted(folder.glob("*.safetensors")):
            out.update(load_file(str(f)))
        return out

    acfg = json.loads((run / "adapter" / "adapter_config.json").read_text())
    lora = tensors(run / "adapter")
    a = lora["base_model.model." + key.replace(".weight", ".lora_A.weight")].float()
    b = lora["base_model.model." + key.replace(".weight", ".lora_B.weight")].float()
    expect = tensors(base)[key].float() + (acfg["lora_alpha"] / acfg["r"]) * (b @ a)
    merged = tensors(run / "merged")[key]
    return float((merged.float() - expect).abs().max()), float(expect.abs().max())


def p_true_4bit_vs_16bit(model_dir: Path, limit: int) -> dict:
    import torch
    from scipy.stats import spearmanr

    from rankrag_lite.io import iter_jsonl
    from rankrag_lite.modeling.loading import load_model
    from rankrag_lite.ranking.scorer import PTrueScorer
    from rankrag_lite.modeling.chat import encode, prompt_text

    rows = [r for r in iter_jsonl(BLEND) if r.get("part") == "ranking"][:limit]
    prompts = [[m for m in r["messages"] if m["role"] != "assistant"] for r in rows]
    scores = {}
    for name, four in (("16bit", False), ("4bit", True)):
        model, tok = load_model(str(model_dir), load_in_4bit=four)
        scorer = PTrueScorer(model, tok, batch_size=8)
        scores[name] = scorer.score_encoded([encode(tok, prompt_text(tok, p)) for p in prompts])
        del model, scorer
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    a, b = scores["16bit"], scores["4bit"]
    return {"n": len(a), "spearman": float(spearmanr(a, b).statistic),
            "mean_abs_diff": sum(abs(x - y) for x, y in zip(a, b)) / len(a),
            "all_in_0_1": all(0.0 <= s <= 1.0 for s in a + b)}


# shares of the time left that each child may use: the Unsloth run (model load, Triton / torch.compile
# warm-up on a fresh machine, steps, merge) leaves room for the hf run and the scoring after it
UNSLOTH_SHARE, HF_SHARE = 0.6, 0.6


def run(out: Path, tokenizer: str, *, hidden: int, layers: int, heads: int, kv_heads: int,
        intermediate: int, steps: int, hf_steps: int, batch: int, max_length: int, limit: int,
        min_spearman: float, budget_s: float = 450.0) -> dict:
    import torch

    out.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    deadline = t0 + budget_s
    base = out / "random-llama3"
    if not (base / "config.json").exists():
        make_random_llama(base, tokenizer, hidden=hidden, layers=layers, heads=heads, kv_heads=kv_heads,
                          intermediate=intermediate)
    res: dict = {"device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu",
                 "torch": torch.__version__, "model": json.loads((base / "config.json").read_text())}
    res["model"] = {k: res["model"][k] for k in ("hidden_size", "num_hidden_layers", "num_attention_heads",
                                                 "num_key_value_heads", "intermediate_size", "vocab_size")}
    res["make_model_s"] = round(time.time() - t0, 1)
    res["budget_s"] = budget_s
    runs = {}
    for backend, n, merge, share in (("unsloth", steps, "true", UNSLOTH_SHARE), ("hf", hf_steps, "false", HF_SHARE)):
        recipe = out / f"recipe-{backend}.yaml"
        recipe.write_text(RECIPE.format(model=base.resolve(), max_length=max_length, targets=json.dumps(SEVEN),
                                        batch=batch, steps=n, merge=merge))
        runs[backend] = finetune(out / backend, recipe, backend, timeout_s=share * (deadline - time.time()))
    res["unsloth"], res["hf"] = runs["unsloth"], runs["hf"]
    u, h = runs["unsloth"], runs["hf"]
    if u["ok"] and h["ok"] and u["tokens_per_s"] and h["tokens_per_s"]:
        res["unsloth_speedup_tokens_per_s"] = round(u["tokens_per_s"] / h["tokens_per_s"], 2)
    on_cuda = torch.cuda.is_available()
    checks = {"unsloth_ran": u["ok"] and u["steps"] == steps and unsloth_ran(u["unsloth_evidence"], on_cuda),
              "unsloth_loss_fell": u["ok"] and u["probe_loss"][1] < u["probe_loss"][0],
              "hf_ran": h["ok"] and h["steps"] == hf_steps}
    if u["ok"]:
        merged_cfg = json.loads((out / "unsloth" / "merged" / "config.json").read_text())
        res["merged_dtype"] = merged_cfg.get("dtype") or merged_cfg.get("torch_dtype")
        err, scale = merge_error(base, out / "unsloth")
        res["merge_max_abs_error"], res["merge_max_abs_weight"] = err, scale
        checks["merged_16bit"] = res["merged_dtype"] == "bfloat16"
        # bf16 rounds each weight by at most 2**-9 of it; NF4 rounding would be ~100x that
        checks["merge_equals_base16_plus_BA"] = err <= scale / 256
        res["p_true"] = p_true_4bit_vs_16bit(out / "unsloth" / "merged", limit)
        checks["p_true_agreement"] = res["p_true"]["all_in_0_1"] and res["p_true"]["spearman"] >= min_spearman
    res["checks"] = checks
    res["ok"] = bool(checks) and all(checks.values()) and len(checks) == 6
    res["wall_s"] = round(time.time() - t0, 1)
    (out / "gpu_check.json").write_text(json.dumps(res, indent=2))
    return res


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="scripts/gpu_check.py", description=__doc__.splitlines()[0])
    ap.add_argument("--tokenizer", required=True, help="Tokenizer folder (the real Llama 3 8B one on the GPU).")
    ap.add_argument("--out", required=True, type=Path, help="Work and output folder.")
    ap.add_argument("--hidden", type=int, default=2048, help="Hidden size of the random Llama.")
    ap.add_argument("--layers", type=int, default=16, help="Decoder layers.")
    ap.add_argument("--heads", type=int, default=32, help="Attention heads.")
    ap.add_argument("--kv-heads", type=int, default=8, help="Key/value heads (GQA, as Llama 3).")
    ap.add_argument("--intermediate", type=int, default=8192, help="MLP size.")
    ap.add_argument("--steps", type=int, default=30, help="QLoRA steps through Unsloth.")
    ap.add_argument("--hf-steps", type=int, default=10, help="QLoRA steps through transformers + peft.")
    ap.add_argument("--batch", type=int, default=4, help="Rows per step.")
    ap.add_argument("--max-length", type=int, default=1024,
                    help="Longest training row in tokens (the blend's five-passage rows need ~700-1000).")
    ap.add_argument("--limit", type=int, default=24, help="Ranking rows to score in 4 and 16 bit.")
    ap.add_argument("--min-spearman", type=float, default=0.5, help="Least 4-bit/16-bit P(True) agreement.")
    ap.add_argument("--budget-s", type=float, default=450.0,
                    help="Seconds for the whole check; each finetune child gets a share of what is left.")
    a = ap.parse_args(argv)
    install_stop_handlers()
    res = run(a.out, a.tokenizer, hidden=a.hidden, layers=a.layers, heads=a.heads, kv_heads=a.kv_heads,
              intermediate=a.intermediate, steps=a.steps, hf_steps=a.hf_steps, batch=a.batch,
              max_length=a.max_length, limit=a.limit, min_spearman=a.min_spearman, budget_s=a.budget_s)
    print(json.dumps(res, indent=2))
    print("RESULT:", "PASS" if res["ok"] else "FAIL")
    return 0 if res["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
