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

``--shared-head``: instead, plain packing (the kit arm above) against packing behind a shared system
head (``share_system_head``, ``rankrag_lite.training.packing``) on the same Stage-2 blend rows, both
with the selective LM head: trained rows per second and tokens computed per trained row.

    python benchmarks/train_throughput.py --shared-head --steps 3   # tests/fixtures/blend_tiny.jsonl, max length 1024
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


def run_arm(name: str, rows, steps: int, packing: bool, batch: int, max_length: int, selective: bool,
            shared_head: bool = False):
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import TrainerCallback
    from trl import SFTConfig

    from rankrag_lite.modeling.loading import load_model
    from rankrag_lite.training.data import to_dataset
    from rankrag_lite.training.packing import (SFT_SETTINGS, SharedHeadCollator, pack_shared_head,
                                              segment_starts, to_packed_dataset)
    from rankrag_lite.training.sft import SelectiveHeadSFTTrainer

    torch.manual_seed(0)
    model, tok = load_model("smollm2-135m", device="cpu", dtype=torch.float32, for_training=True)
    model = get_peft_model(model, LoraConfig(
        r=16, lora_alpha=32, target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj",
                                             "up_proj", "down_proj"], task_type="CAUSAL_LM"))
    stats = {"computed": 0, "real": 0, "rows": 0}

    class Count(TrainerCallback):
        pass

    tmp = tempfile.mkdtemp(prefix=f"bench-{name}-")
    kw = dict(output_dir=tmp, max_steps=steps, logging_steps=1, save_strategy="no", report_to="none",
              disable_tqdm=True, use_cpu=True, bf16=False, fp16=False, gradient_checkpointing=False,
              max_length=max_length, learning_rate=2e-4, seed=0)
    data = {"train_dataset": to_dataset(rows)}
    if shared_head:  # what finetune does with share_system_head: rows come packed, TRL packs nothing
        kw.update(SFT_SETTINGS, per_device_train_batch_size=1, gradient_accumulation_steps=batch)
        data = {"train_dataset": to_packed_dataset(pack_shared_head(rows, max_length)),
                "data_collator": SharedHeadCollator(tok.pad_token_id)}
    elif packing:
        kw.update(packing=True, packing_strategy="bfd", per_device_train_batch_size=1,
                  gradient_accumulation_steps=batch)
    else:
        kw.update(per_device_train_batch_size=batch)  # SFTConfig defaults otherwise (batch 8)
    args = SFTConfig(**kw)
    trainer = SelectiveHeadSFTTrainer(model=model, args=args, processing_class=tok, selective_head=selective,
                                      callbacks=[Count()], **data)
    orig = trainer.compute_loss

    def counting(model, inputs, *a, **k):
        ids = inputs["input_ids"]
        stats["computed"] += ids.numel()
        mask = inputs.get("attention_mask")
        if mask is not None and mask.dim() == 4:  # shared head: padding is where nothing attends
            stats["real"] += int(mask.diagonal(dim1=-2, dim2=-1).sum())
        elif mask is not None:
            stats["real"] += int(mask.sum())
        else:
            stats["real"] += ids.numel()
        if "position_ids" in inputs:  # packed: one trained row per segment (micro-batches of 1, no padding)
            stats["rows"] += int(segment_starts(inputs["position_ids"]).sum())
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
        "rows": stats["rows"],
        "rows_per_s": round(stats["rows"] / wall, 3),
        "tokens_per_row": round(stats["real"] / max(stats["rows"], 1), 1),
    }


def shared_head_main(a) -> int:
    """Plain packing vs packing behind a shared system head, same rows, same steps."""
    from rankrag_lite.modeling.loading import load_tokenizer
    from rankrag_lite.training.data import load_chat_records, tokenize_records
    from rankrag_lite.training.packing import pack_shared_head, packing_stats

    tok = load_tokenizer("smollm2-135m")
    rows = tokenize_records(tok, load_chat_records(a.data, a.examples, seed=0), a.max_length,
                            system_head=True)
    layout = packing_stats(rows, pack_shared_head(rows, a.max_length))
    plain = run_arm("plain packing (BFD, padding-free, selective LM head)", rows, a.steps, True, a.batch,
                    a.max_length, True)
    shared = run_arm("shared system head (BFD behind one head, 4D mask)", rows, a.steps, True, a.batch,
                     a.max_length, True, shared_head=True)
    ratio = shared["rows_per_s"] / max(plain["rows_per_s"], 1e-9)
    print(f"{len(rows)} rows, {layout['rows_with_shared_head']} with the shared head; packed behind it: "
          f"{layout['packed_tokens']} tokens instead of {layout['row_tokens']} "
          f"({100 * layout['tokens_saved_fraction']:.1f}% fewer)")
    for r in (plain, shared):
        print(f"{r['arm']:55s} {r['rows_per_s']:7.3f} rows/s  {r['tokens_per_row']:6.1f} tokens/row  "
              f"({r['rows']} rows, {r['real_tokens']} tokens, {r['wall_s']} s)")
    print(f"ratio shared / plain trained rows/s: {ratio:.2f}x; tokens per row "
          f"{shared['tokens_per_row'] / max(plain['tokens_per_row'], 1e-9):.2f}x")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"plain": plain, "shared_head": shared, "ratio_rows_per_s": ratio, "layout": layout,
                       "cpu_threads": os.cpu_count()}, f, indent=2)
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=None, help="chat JSONL (default: ../shared/data/sft/sft_chat.jsonl.gz; "
                    "with --shared-head tests/fixtures/blend_tiny.jsonl)")
    ap.add_argument("--examples", type=int, default=96)
    ap.add_argument("--steps", type=int, default=2, help="optimizer steps per arm")
    ap.add_argument("--max-length", type=int, default=None, help="default 384; 1024 (the tiny recipe's) "
                    "with --shared-head")
    ap.add_argument("--json", default=None, help="also write the results here")
    ap.add_argument("--shared-head", action="store_true",
                    help="plain packing vs a shared system head on Stage-2 blend rows (see the docstring)")
    ap.add_argument("--batch", type=int, default=4, help="packed rows per optimizer step (--shared-head)")
    a = ap.parse_args(argv)
    if a.shared_head:
        a.data = a.data or os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "blend_tiny.jsonl")
        a.max_length = a.max_length or 1024
        return shared_head_main(a)
    a.data = a.data or "../shared/data/sft/sft_chat.jsonl.gz"
    a.max_length = a.max_length or 384

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
