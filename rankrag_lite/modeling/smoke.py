"""Helpers for ``scripts/gpu_check.sh`` (also usable on CPU): a random small Llama, and P(True).

``python -m rankrag_lite.modeling.smoke make-model DEST [--tokenizer T]`` writes a randomly initialised
Llama-architecture model with a real tokenizer (default: the tiny model's, chat template included).
``python -m rankrag_lite.modeling.smoke score MODEL BLEND`` prints P(True) for the blend's ranking rows.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def make_random_llama(dest: str | Path, tokenizer: str = "smollm2-135m", hidden: int = 256,
                      layers: int = 4, heads: int = 4, kv_heads: int = 2, seed: int = 0) -> Path:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from rankrag_lite.io import atomic_dir
    from rankrag_lite.modeling.loading import load_tokenizer

    tok = load_tokenizer(tokenizer)
    torch.manual_seed(seed)
    cfg = LlamaConfig(
        vocab_size=len(tok), hidden_size=hidden, intermediate_size=hidden * 8 // 3 // 64 * 64 or 64,
        num_hidden_layers=layers, num_attention_heads=heads, num_key_value_heads=kv_heads,
        max_position_embeddings=2048, tie_word_embeddings=False,
        bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id,
    )
    model = LlamaForCausalLM(cfg).to(torch.bfloat16)  # a 16-bit base, as the recipes expect
    dest = Path(dest)
    with atomic_dir(dest) as tmp:
        model.save_pretrained(str(tmp), safe_serialization=True)
        tok.save_pretrained(str(tmp))
    return dest


def p_true(model, tok, messages_list: list[list[dict]]) -> list[float]:
    """P("True") of each ranking prompt, through the kit's own scorer (``ranking.PTrueScorer``)."""
    from rankrag_lite.ranking.scorer import PTrueScorer
    from rankrag_lite.ranking.tokens import encode, render

    scorer = PTrueScorer(model, tok)
    return scorer.score_encoded([encode(tok, render(tok, msgs)) for msgs in messages_list])


def score_blend(model_dir: str, blend: str, limit: int = 16) -> dict:
    import torch

    from rankrag_lite.io import iter_jsonl
    from rankrag_lite.modeling.loading import load_model

    rows = [r for r in iter_jsonl(blend) if r.get("part") == "ranking"][:limit]
    if not rows:
        raise SystemExit(f"error: {blend} has no context-ranking rows (part 'ranking') to score")
    model, tok = load_model(model_dir, dtype=None if torch.cuda.is_available() else torch.float32)
    prompts = [[m for m in r["messages"] if m["role"] != "assistant"] for r in rows]
    labels = [r["messages"][-1]["content"].strip() == "True" for r in rows]
    scores = p_true(model, tok, prompts)
    pos = [s for s, y in zip(scores, labels) if y]
    neg = [s for s, y in zip(scores, labels) if not y]
    pairs = [(p > n) for p in pos for n in neg]
    return {
        "n": len(scores),
        "mean_p_true_relevant": sum(pos) / max(len(pos), 1),
        "mean_p_true_irrelevant": sum(neg) / max(len(neg), 1),
        "pairwise_auc": sum(pairs) / max(len(pairs), 1),
        "all_finite_in_0_1": all(0.0 <= s <= 1.0 for s in scores),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m rankrag_lite.modeling.smoke")
    sub = ap.add_subparsers(dest="cmd", required=True)
    mk = sub.add_parser("make-model")
    mk.add_argument("dest")
    mk.add_argument("--tokenizer", default="smollm2-135m")
    mk.add_argument("--hidden", type=int, default=256)
    mk.add_argument("--layers", type=int, default=4)
    sc = sub.add_parser("score")
    sc.add_argument("model")
    sc.add_argument("blend")
    sc.add_argument("--limit", type=int, default=16)
    a = ap.parse_args(argv)
    if a.cmd == "make-model":
        print(make_random_llama(a.dest, a.tokenizer, hidden=a.hidden, layers=a.layers))
    else:
        print(json.dumps(score_blend(a.model, a.blend, a.limit)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
