"""4-bit (bitsandbytes NF4) executed on CPU with the real tiny model: QLoRA, merge into the original
weights, and 4-bit P(True) scoring against fp32 (bitsandbytes 0.50.2 ships a CPU backend)."""

from __future__ import annotations

import json

import pytest
import torch
from typer.testing import CliRunner

from rankrag_lite.cli import app
from tests.inference_helpers import candidates_from_twowiki

runner = CliRunner()

def test_4bit_probe_passes_on_this_cpu():
    """The real probe (an NF4 Linear4bit forward and backward on CPU), not an import check."""
    from rankrag_lite.modeling.quant import _probe, check_4bit

    assert _probe("cpu") is None
    check_4bit("cpu")
    check_4bit()  # the default device is the one the kit computes on


def test_4bit_refused_with_one_line_where_the_probe_fails(monkeypatch, tmp_path):
    from rankrag_lite.modeling import quant

    monkeypatch.setattr(quant, "_probe", lambda device: f"bitsandbytes 4-bit does not run on {device}")
    cand = candidates_from_twowiki(tmp_path / "cand.jsonl", n=1, passages=2)
    out = tmp_path / "out.jsonl"
    r = runner.invoke(app, ["rerank", "--model", "smollm2-135m", "--input", str(cand), "--out", str(out),
                            "--load-in-4bit"])
    assert r.exit_code == 2 and not out.exists()
    assert r.stderr.strip() == "error: --load-in-4bit cannot run here: bitsandbytes 4-bit does not run on cpu"


def _spearman(a: list[float], b: list[float]) -> float:
    from scipy.stats import spearmanr

    return float(spearmanr(a, b).statistic)


@pytest.mark.slow
def test_rerank_4bit_scores_rank_like_fp32(tmp_path):
    """`rerank --load-in-4bit` really scores with NF4 weights; its P(True) ranks like fp32's.

    The shipped adapter (what a user reranks with): fp32 merges it, 4-bit keeps it unmerged on the
    NF4 base. Measured here on these 20 (question, passage) pairs (2026-12-05, this CPU, the two-pass
    adapter): Spearman 0.88 (Pearson 0.92) between raw NF4 and fp32 P(True), but NF4 shifts every
    score up (mean difference +0.20 on fp32 scores spanning 0.11-0.87); with the shift removed the
    differences average 0.06, against 0.26 between two passages' fp32 scores. (The first adapter,
    whose scores spanned 0.39-0.54: Spearman 0.73, mean |difference| 0.028.) The bounds leave room for
    other CPUs' rounding; unrelated scores give Spearman ~0 (sd 0.23 at n=20) and a spread of the
    differences near the passages' own. Because of the shift, a calibration fitted on fp32 scores is not
    applied to NF4 ones: the CLI run warns and writes raw scores.
    """
    from itertools import combinations
    from statistics import mean

    from rankrag_lite.model import RankRAG
    from rankrag_lite.modeling.loading import load_model

    cand = candidates_from_twowiki(tmp_path / "cand.jsonl", n=2, passages=10, max_chars=120)
    records = [json.loads(line) for line in cand.read_text().splitlines()]
    pairs = [(r["question"], p) for r in records for p in r["passages"]]
    fp32 = RankRAG.from_pretrained("smollm2-135m-rankrag", calibration=None, batch_size=10).score(pairs)
    # NF4 through the CLI: the calibration beside the model was fitted on fp32 scores, so it is not
    # applied to these (a warning): they are raw P(True), comparable with the raw fp32 ones
    out = tmp_path / "nf4.jsonl"
    r = runner.invoke(app, ["rerank", "--model", "smollm2-135m-rankrag", "--input", str(cand), "--out", str(out),
                            "--batch-size", "10", "--load-in-4bit"])
    assert r.exit_code == 0, (r.output, r.exception)
    ranked = [json.loads(line) for line in out.read_text().splitlines()]
    assert all(rec["reranker"]["calibrated"] is False for rec in ranked)
    assert "fitted on full-precision scores: not applied to NF4" in r.stderr  # the shipped calibration.json
    nf4 = {p["pid"]: p["rerank_score"] for rec in ranked for p in rec["passages"]}
    a, b = [float(x) for x in fp32], [nf4[p["pid"]] for _, p in pairs]
    assert len(a) == 20 and a != b  # the 4-bit run did not quietly score in fp32
    rho = _spearman(a, b)
    shift = mean(y - x for x, y in zip(a, b))
    spread = mean(abs(y - x - shift) for x, y in zip(a, b))
    between = mean(abs(x - y) for x, y in combinations(a, 2))  # two passages' fp32 scores
    print(f"4-bit vs fp32 P(True) on {len(a)} pairs: spearman {rho:.3f}, shift {shift:+.4f}, "
          f"spread {spread:.4f} (between passages {between:.4f})")
    assert rho >= 0.55
    assert spread < 0.5 * between

    model, _ = load_model("smollm2-135m", device="cpu", load_in_4bit=True)
    import bitsandbytes as bnb

    assert isinstance(model.model.layers[0].self_attn.q_proj, bnb.nn.Linear4bit)
    assert model.model.layers[0].self_attn.q_proj.weight.quant_type == "nf4"


@pytest.mark.slow
def test_qlora_run_then_merge_into_the_original_weights(tiny_model_path, tiny_recipe, fixtures, tmp_path):
    """A real QLoRA run (NF4 base, k-bit preparation, LoRA on the seven projections) on the tiny model;
    its adapter reloads and scores; the merge folds it into the fp32 base, not into dequantised NF4."""
    import yaml
    from bitsandbytes.functional import dequantize_4bit, quantize_4bit
    from peft import PeftModel
    from safetensors.torch import load_file
    from transformers import AutoModelForCausalLM

    from rankrag_lite import prompts
    from rankrag_lite.modeling.loading import load_model
    from rankrag_lite.ranking.scorer import PTrueScorer
    from rankrag_lite.modeling.chat import encode, prompt_text

    recipe = tiny_recipe(tmp_path / "r.yaml", stage2={"max_examples": 6, "max_steps": 3, "save_steps": 3,
                                                     "merge": True})
    out = tmp_path / "q"
    r = runner.invoke(app, ["finetune", "--stage", "2", "--recipe", str(recipe), "--data",
                            str(fixtures / "blend_tiny.jsonl"), "--load-in-4bit", "--out", str(out)])
    assert r.exit_code == 0, (r.output, r.exception)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["global_step"] == 3 and summary["backend"] == "hf"
    assert summary["probe_loss_after"] < summary["probe_loss_before"]
    assert yaml.safe_load((out / "recipe.yaml").read_text())["finetune_run"]["load_in_4bit"] is True
    acfg = json.loads((out / "adapter" / "adapter_config.json").read_text())
    assert sorted(acfg["target_modules"]) == sorted(
        ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"])

    # the adapter reloads on the NF4 base (unmerged) and scores
    msgs = [prompts.ranking_prompt("who wrote hamlet", "Hamlet is a tragedy by William Shakespeare."),
            prompts.ranking_prompt("who wrote hamlet", "Water boils at 100 degrees Celsius.")]
    q4, tok = load_model(out / "adapter", device="cpu", load_in_4bit=True)
    assert hasattr(q4, "peft_config")
    s4 = PTrueScorer(q4, tok).score_encoded([encode(tok, prompt_text(tok, m)) for m in msgs])
    assert all(0.0 < s < 1.0 for s in s4)
    del q4

    # merged weight of a projection == base (fp32, the original) + (alpha / r) * B @ A, by hand
    key = "model.layers.1.self_attn.q_proj.weight"
    base_w = load_file(f"{tiny_model_path}/model.safetensors")[key]
    lora = load_file(str(out / "adapter" / "adapter_model.safetensors"))
    a = lora["base_model.model.model.layers.1.self_attn.q_proj.lora_A.weight"]
    b = lora["base_model.model.model.layers.1.self_attn.q_proj.lora_B.weight"]
    # TRL keeps QLoRA adapters in bf16 (the QLoRA paper's choice); the product is taken in fp32
    assert a.dtype == b.dtype == torch.bfloat16
    delta = (acfg["lora_alpha"] / acfg["r"]) * (b.float() @ a.float())
    assert delta.abs().max() > 1e-5  # the run trained this projection
    merged_w = load_file(str(out / "merged" / "model.safetensors"))[key]
    assert merged_w.dtype == torch.float32
    assert torch.allclose(merged_w, base_w + delta, atol=1e-5, rtol=0)  # delta rounded to bf16 by peft
    # and not the dequantised NF4 base: that differs from the original by NF4's rounding
    qw, state = quantize_4bit(base_w, quant_type="nf4")
    nf4_w = dequantize_4bit(qw, state, quant_type="nf4")
    assert (merged_w - (nf4_w + delta)).abs().max() > 1e-3

    # the merged model's logits match the adapter applied to the full-precision base
    ids = encode(tok, prompt_text(tok, msgs[0]))
    ids = torch.tensor([ids])
    ref = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_model_path, dtype=torch.float32),
                                    str(out / "adapter")).eval()
    merged, _ = load_model(out / "merged", device="cpu")
    with torch.no_grad():
        la = ref(input_ids=ids).logits[0, -1]
        lb = merged(input_ids=ids).logits[0, -1]
    assert (la - lb).abs().max() < 1e-3


def test_4bit_training_grads_unchanged_by_an_eval_pass(tiny_model_path):
    """An eval forward (the probe loss before training) must not switch NF4 layers to bitsandbytes'
    CPU inference kernel (on AVX512-BF16 CPUs), whose op has no backward: the LoRA gradients after
    it equal those before it."""
    from peft import LoraConfig, get_peft_model

    from rankrag_lite.modeling.loading import load_model

    torch.manual_seed(0)
    model, _ = load_model(tiny_model_path, device="cpu", load_in_4bit=True, for_training=True)
    model = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "down_proj"],
                                             init_lora_weights=False, task_type="CAUSAL_LM"))
    ids = torch.tensor([[1, 422, 2150, 314, 253, 1345, 28, 9, 17, 902]])

    def grads():
        model.zero_grad()
        model(input_ids=ids, labels=ids).loss.backward()
        return {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}

    before = grads()
    model.eval()
    with torch.no_grad():
        model(input_ids=ids)
    model.train()
    after = grads()
    assert sorted(before) == sorted(after) and len(before) == 4 * 30
    first = [n for n in before if ".layers.0.self_attn.q_proj.lora_A" in n][0]
    assert before[first].abs().max() > 0
    for n in before:
        assert torch.allclose(before[n], after[n], atol=1e-6, rtol=1e-4), n
