"""`rankrag-lite merge`: the merged model gives base + adapter's next-token logits (fp32, < 1e-4)."""

from __future__ import annotations

import json

import pytest
import torch
from typer.testing import CliRunner

from rankrag_lite import prompts
from rankrag_lite.cli import app
from rankrag_lite.modeling.chat import prompt_text


@pytest.mark.slow
def test_merged_logits_equal_base_plus_adapter(tiny_model_path, tmp_path):
    from peft import LoraConfig, PeftModel, get_peft_model
    from transformers import AutoModelForCausalLM

    from rankrag_lite.modeling.loading import load_model, load_tokenizer

    torch.manual_seed(0)
    base = AutoModelForCausalLM.from_pretrained(tiny_model_path, dtype=torch.float32)
    cfg = LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj", "down_proj"],
                     init_lora_weights=False, task_type="CAUSAL_LM")
    peft_model = get_peft_model(base, cfg)
    # non-trivial LoRA weights: B is zero at the usual init; here both A and B are random and scaled
    with torch.no_grad():
        for name, p in peft_model.named_parameters():
            if "lora_" in name:
                p.copy_(torch.randn_like(p) * 0.05)
    adapter = tmp_path / "adapter"
    peft_model.save_pretrained(str(adapter))
    load_tokenizer(tiny_model_path).save_pretrained(str(adapter))

    out = tmp_path / "merged"
    res = CliRunner().invoke(app, ["merge", "--adapter", str(adapter), "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert (out / "config.json").exists() and (out / "tokenizer_config.json").exists()

    tok = load_tokenizer(tiny_model_path)
    text = prompt_text(tok, prompts.context_ranking("who wrote hamlet", "Hamlet is a play by Shakespeare."))
    ids = tok(text, return_tensors="pt", add_special_tokens=False).input_ids

    ref_base = AutoModelForCausalLM.from_pretrained(tiny_model_path, dtype=torch.float32)
    ref = PeftModel.from_pretrained(ref_base, str(adapter)).eval()
    merged, _ = load_model(out, device="cpu", dtype=torch.float32)
    plain, _ = load_model(tiny_model_path, device="cpu", dtype=torch.float32)
    with torch.no_grad():
        a = ref(input_ids=ids).logits[0, -1]
        b = merged(input_ids=ids).logits[0, -1]
        c = plain(input_ids=ids).logits[0, -1]
    assert (a - c).abs().max() > 1e-2  # the adapter really changes the logits
    assert (a - b).abs().max() < 1e-4
    assert json.loads((out / "config.json").read_text())["architectures"] == ["LlamaForCausalLM"]
