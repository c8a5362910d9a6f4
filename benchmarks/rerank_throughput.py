"""Reranking throughput of the tiny model on real passages (TREC DL19 BM25 top-100).

Measures, in one run on the same (query, passage) pairs:

- ``naive``: one pair at a time, full logits over every position (no batching, no shared prefix);
- ``batched``: ``PTrueScorer`` without the shared-prefix cache (length-sorted left-padded batches,
  ``logits_to_keep=1``, ``inference_mode``);
- ``batched+prefix``: ``PTrueScorer`` as shipped (the ~60-token system-prompt head computed once);
- ``int8-dynamic`` (if torch still offers ``quantize_dynamic``): the shipped scorer on a copy of the
  model with int8 dynamic-quantised Linear layers, with the Spearman correlation of its scores.

Prints passages/s, the speed-up over the naive loop, and the achieved GFLOP/s
(2 x non-embedding parameters x tokens actually run through the model, per second) as a fraction of
this machine's fp32 matmul peak, measured here with a torch matmul.

    python benchmarks/rerank_throughput.py --data-root ../shared/data [--queries 2 --per-query 24]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path


def matmul_peak_gflops(n: int = 1024, repeats: int = 8) -> float:
    import torch

    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.matmul(a, b)
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        torch.matmul(a, b)
        best = min(best, time.perf_counter() - t0)
    return 2 * n ** 3 / best / 1e9


def non_embedding_params(model) -> int:
    emb = model.get_input_embeddings().weight
    return sum(p.numel() for p in model.parameters() if p is not emb)


def spearman(a, b) -> float:
    import numpy as np

    ra = np.argsort(np.argsort(a)).astype(float)
    rb = np.argsort(np.argsort(b)).astype(float)
    return float(np.corrcoef(ra, rb)[0, 1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-root", default="../shared/data")
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--queries", type=int, default=2, help="DL19 queries (first N)")
    ap.add_argument("--per-query", type=int, default=24, help="BM25 top passages per query")
    ap.add_argument("--naive", type=int, default=16, help="pairs timed in the naive loop")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--no-int8", action="store_true")
    ap.add_argument("--json", default=None, help="also write the results here")
    args = ap.parse_args()

    import torch

    from rankrag_lite.modeling.loading import load_model
    from rankrag_lite.ranking import PTrueScorer, naive_score

    path = Path(args.data_root) / "ranking" / "msmarco_dl19" / "bm25_top100.json"
    data = json.loads(path.read_text())[: args.queries]
    pairs = [(r["query"], h["content"]) for r in data for h in r["hits"][: args.per_query]]
    model, tok = load_model(args.model, device="cpu")
    n_params = non_embedding_params(model)
    peak = matmul_peak_gflops()
    print(f"machine: {os.cpu_count()} CPUs, torch {torch.__version__}, {torch.get_num_threads()} threads; "
          f"fp32 matmul peak {peak:.1f} GFLOP/s (1024^3, best of 8)")
    print(f"model: {args.model}, {n_params / 1e6:.1f}M non-embedding parameters; "
          f"{len(pairs)} DL19 pairs ({args.queries} queries x {args.per_query})")

    results = {}

    def report(name, n_pairs, seconds, tokens, scores=None, ref=None):
        pps = n_pairs / seconds
        gflops = 2 * n_params * tokens / seconds / 1e9
        row = {"passages_per_s": pps, "pairs": n_pairs, "seconds": seconds, "tokens_computed": tokens,
               "gflops": gflops, "fraction_of_peak": gflops / peak}
        if scores is not None and ref is not None:
            row["max_abs_diff_vs_naive"] = max(abs(a - b) for a, b in zip(scores, ref))
            row["spearman_vs_naive"] = spearman(scores, ref)
        results[name] = row
        extra = ""
        if "max_abs_diff_vs_naive" in row:
            extra = f"  max|diff| {row['max_abs_diff_vs_naive']:.1e}, Spearman {row['spearman_vs_naive']:.4f}"
        print(f"{name:16s} {pps:6.2f} passages/s  {gflops:6.1f} GFLOP/s ({100 * gflops / peak:4.1f}% of peak)"
              + extra)

    scorer = PTrueScorer(model, tok, batch_size=args.batch_size)
    seqs = [scorer.encode_pair(q, p) for q, p in pairs]
    prompt_tokens = sum(len(s) for s in seqs)
    print(f"prompt tokens: {prompt_tokens} ({prompt_tokens / len(seqs):.0f} per pair; shared head "
          f"{len(scorer.prefix)})")
    scorer.score_encoded(seqs[:2])  # warm-up

    # naive: one pair at a time, full logits
    n_naive = min(args.naive, len(pairs))
    t0 = time.perf_counter()
    ref = [naive_score(model, tok, q, p) for q, p in pairs[:n_naive]]
    report("naive", n_naive, time.perf_counter() - t0, sum(len(s) for s in seqs[:n_naive]))

    plain = PTrueScorer(model, tok, batch_size=args.batch_size, prefix_cache=False)
    t0 = time.perf_counter()
    s_plain = plain.score_encoded(seqs)
    report("batched", len(seqs), time.perf_counter() - t0, prompt_tokens, s_plain[:n_naive], ref)

    t0 = time.perf_counter()
    s_pref = scorer.score_encoded(seqs)
    computed = prompt_tokens - len(scorer.prefix) * (len(seqs) - 1)
    report("batched+prefix", len(seqs), time.perf_counter() - t0, computed, s_pref[:n_naive], ref)
    results["batched+prefix"]["spearman_vs_batched_all"] = spearman(s_pref, s_plain)

    if not args.no_int8:
        try:
            import copy

            from torch.ao.quantization import quantize_dynamic

            qmodel = quantize_dynamic(copy.deepcopy(model), {torch.nn.Linear}, dtype=torch.qint8)
            qscorer = PTrueScorer(qmodel, tok, batch_size=args.batch_size)
            qscorer.score_encoded(seqs[:2])
            t0 = time.perf_counter()
            s_q = qscorer.score_encoded(seqs)
            report("int8-dynamic", len(seqs), time.perf_counter() - t0, computed, s_q[:n_naive], ref)
            results["int8-dynamic"]["spearman_vs_fp32_all"] = spearman(s_q, s_pref)
            print(f"int8-dynamic Spearman vs fp32 over all {len(seqs)} pairs: "
                  f"{results['int8-dynamic']['spearman_vs_fp32_all']:.4f}")
        except Exception as e:  # noqa: BLE001
            print(f"int8-dynamic: not measured ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})")

    base = results["naive"]["passages_per_s"]
    for name, row in results.items():
        row["speedup_vs_naive"] = row["passages_per_s"] / base
    print("speed-up over the naive loop: " + ", ".join(
        f"{n} {r['speedup_vs_naive']:.2f}x" for n, r in results.items() if n != "naive"))
    if args.json:
        Path(args.json).write_text(json.dumps({"peak_gflops": peak, "non_embedding_params": n_params,
                                               "results": results}, indent=2))


if __name__ == "__main__":
    main()
