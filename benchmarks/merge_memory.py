"""Peak resident memory of `rankrag-lite merge` against the model's size, in one run.

A random bf16 model shaped like Llama 3 (GQA, untied head) is saved in several safetensors shards, with
a random LoRA adapter on the seven projections. Three child processes, each with its own peak RSS:

* ``baseline``: imports what a merge imports (torch, transformers, peft, safetensors, the kit) and
  merges nothing: the interpreter's own footprint;
* ``streaming``: the kit's merge (``training/merge.py``: one shard in memory at a time);
* ``in-memory``: the whole model loaded and merged by peft's ``merge_and_unload`` (the merge before
  this change; what the kit still does for DoRA adapters).

Printed: the model's size, each arm's peak RSS, what each adds over the baseline, and that as a
fraction of the model's size (the streaming merge's should be about one shard's, not the model's).

    python benchmarks/merge_memory.py [--hidden 1024 --layers 24 --shard-mb 100]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

PROJ = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def build(dest: Path, hidden: int, layers: int, shard_mb: int) -> None:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=32000, hidden_size=hidden, intermediate_size=int(hidden * 2.75),
                      num_hidden_layers=layers, num_attention_heads=hidden // 64,
                      num_key_value_heads=max(1, hidden // 256), rope_theta=500000.0, tie_word_embeddings=False)
    model = LlamaForCausalLM(cfg).to(torch.bfloat16)
    model.save_pretrained(str(dest / "base"), max_shard_size=f"{shard_mb}MB")
    peft_model = get_peft_model(model, LoraConfig(r=16, lora_alpha=16, target_modules=PROJ,
                                                  init_lora_weights=False, task_type="CAUSAL_LM"))
    peft_model.save_pretrained(str(dest / "adapter"))
    adapter_cfg = dest / "adapter" / "adapter_config.json"
    data = json.loads(adapter_cfg.read_text())
    data["base_model_name_or_path"] = str(dest / "base")
    adapter_cfg.write_text(json.dumps(data))
    # the merge saves a tokenizer beside the weights: any small one will do for the measurement
    from transformers import AutoTokenizer

    from rankrag_lite.modeling.loading import tiny_model_dir

    AutoTokenizer.from_pretrained(str(tiny_model_dir())).save_pretrained(str(dest / "adapter"))


def child(arm: str, root: Path) -> None:
    import peft  # noqa: F401  (the baseline imports what the merges import)
    import safetensors  # noqa: F401
    import torch  # noqa: F401
    import transformers  # noqa: F401

    from rankrag_lite.training import merge as M

    if arm == "streaming":
        M.merge_adapter(root / "adapter", root / "out-streaming")
    elif arm == "in-memory":
        import torch as t

        M._peft_merge(str(root / "base"), root / "adapter", root / "out-memory", t.bfloat16)
    # VmHWM: this process's own high-water mark (ru_maxrss would carry the parent's across fork + exec)
    hwm = next(line for line in Path("/proc/self/status").read_text().splitlines() if line.startswith("VmHWM"))
    print(json.dumps({"arm": arm, "peak_rss": int(hwm.split()[1]) * 1024}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hidden", type=int, default=1024)
    ap.add_argument("--layers", type=int, default=24)
    ap.add_argument("--shard-mb", type=int, default=100)
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--root", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child, Path(args.root))
        return
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        build(root, args.hidden, args.layers, args.shard_mb)
        shards = sorted((root / "base").glob("*.safetensors"))
        size = sum(f.stat().st_size for f in shards)
        largest = max(f.stat().st_size for f in shards)
        env = {**os.environ, "RANKRAG_LITE_QUIET": "1"}
        rows = {}
        for arm in ("baseline", "streaming", "in-memory"):
            res = subprocess.run([sys.executable, __file__, "--child", arm, "--root", str(root)],
                                 capture_output=True, text=True, env=env, check=True)
            rows[arm] = json.loads(res.stdout.strip().splitlines()[-1])["peak_rss"]
    mb = 2**20
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs; python {platform.python_version()}")
    print(f"model: {size / mb:.0f} MiB in {len(shards)} bf16 shards (largest {largest / mb:.0f} MiB); "
          f"LoRA r=16 on the seven projections")
    base = rows["baseline"]
    print(f"{'arm':<10} {'peak RSS MiB':>13} {'over baseline':>14} {'/ model size':>13}")
    for arm, peak in rows.items():
        over = peak - base
        print(f"{arm:<10} {peak / mb:>13.0f} {over / mb:>14.0f} {over / size:>13.2f}")
    ratio = (rows["streaming"] - base) / max(rows["in-memory"] - base, 1)
    print(f"streaming / in-memory (over baseline): {ratio:.2f}")


if __name__ == "__main__":
    main()
