"""Training throughput on CPU: the tiny recipe's batching vs TRL's plain default configuration.

Both arms train the same LoRA on SmolLM2-135M for the same number of steps on the same chat data
(fp32, CPU) and report:
  * tokens/s: real (non-padding) tokens processed per second of training,
  * non-padding fraction: real tokens / tokens the model computed on (padding included).

kit arm: best-fit-decreasing packing, padding-free rows, LM head only at trained positions.
baseline arm: SFTConfig defaults (padded batches of 8, random order, no packing) with the model's own
full-logits loss; stock TRL 1.15's loss needs Triton kernels that a CPU torch lacks, so the baseline
computes the same loss through the model's own LM head over every position.

    python benchmarks/train_throughput.py --data ../shared/data/sft/sft_chat.jsonl.gz --steps 2
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

os.environ.setdefault("RANKRAG_LITE_QUIET", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def run_arm(name: str, rows, steps: int, packing: bool, batch: int, max_length: int, selective: bool):
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import TrainerCallback
    from trl import SFTConfig

    from rankrag_lite.modeling.loading import load_model
    from rankrag_lite.training.data import to_dataset
    from rankrag_lite.training.sft import SelectiveHeadSFTTrainer

    torch.manual_seed(0)
    model, tok = load_model("smollm2-135m", device="cpu", dtype=torch.float32, for_training=True)
    model = get_peft_model(model, LoraConfig(
        r=16, lora_alpha=32, target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj",
                                             "up_proj", "down_proj"], task_type="CAUSAL_LM"))
    stats = {"computed": 0, "real": 0}

    class Count(TrainerCallback):
        pass

    tmp = tempfile.mkdtemp(prefix=f"bench-{name}-")
    kw = dict(output_dir=tmp, max_steps=steps, logging_steps=1, save_strategy="no", report_to="none",
              disable_tqdm=True, use_cpu=True, bf16=False, fp16=False, gradient_checkpointing=False,
              max_length=max_length, learning_rate=2e-4, seed=0)
    if packing:
        kw.update(packing=True, packing_strategy="bfd", per_device_train_batch_size=1,
                  gradient_accumulation_steps=batch)
    else:
        kw.update(per_device_train_batch_size=batch)  # SFTConfig defaults otherwise (batch 8)
    args = SFTConfig(**kw)
    trainer = SelectiveHeadSFTTrainer(model=model, args=args, train_dataset=to_dataset(rows),
                                      processing_class=tok, selective_head=selective, callbacks=[Count()])
    orig = trainer.compute_loss

    def counting(model, inputs, *a, **k):
        ids = inputs["input_ids"]
        stats["computed"] += ids.numel()
        if "attention_mask" in inputs:
            stats["real"] += int(inputs["attention_mask"].sum())
        else:
            stats["real"] += ids.numel()
        return orig(model, inputs, *a, **k)

    trainer.compute_loss = counting
    t0 = time.perf_counter()
    trainer.train()
    wall = time.perf_counter() - t0
    return {
        "arm": name, "steps": steps, "wall_s": round(wall, 1),
        "real_tokens": stats["real"], "computed_tokens": stats["computed"],
        "tokens_per_s": round(stats["real"] / wall, 1),
        "non_padding_fraction": round(stats["real"] / max(stats["computed"], 1), 3),
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="../shared/data/sft/sft_chat.jsonl.gz")
    ap.add_argument("--examples", type=int, default=96)
    ap.add_argument("--steps", type=int, default=2, help="optimizer steps per arm")
    ap.add_argument("--max-length", type=int, default=384)
    ap.add_argument("--json", default=None, help="also write the results here")
    a = ap.parse_args(argv)

    from rankrag_lite.modeling.loading import load_tokenizer
    from rankrag_lite.training.data import load_chat_records, tokenize_records

    tok = load_tokenizer("smollm2-135m")
    rows = tokenize_records(tok, load_chat_records(a.data, a.examples, seed=0), a.max_length,
                            last_turn_only=True)
    # the kit packs rows of max_length tokens (4 rows per step, about as many real tokens as the
    # baseline's step); the baseline pads 8 sequences per step (TRL's default batch size)
    kit = run_arm("kit (packed, padding-free, selective LM head)", rows, a.steps, True, 4, a.max_length, True)
    base = run_arm("TRL defaults (padded batches of 8, full logits)", rows, a.steps, False, 8, a.max_length, False)
    ratio = kit["tokens_per_s"] / max(base["tokens_per_s"], 1e-9)
    for r in (kit, base):
        print(f"{r['arm']:50s} {r['tokens_per_s']:8.1f} tok/s  non-padding {r['non_padding_fraction']:.3f}  "
              f"({r['real_tokens']} real / {r['computed_tokens']} computed tokens, {r['wall_s']} s)")
    print(f"ratio kit / baseline tokens/s: {ratio:.2f}x")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"kit": kit, "baseline": base, "ratio": ratio, "cpu_threads": os.cpu_count()}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
