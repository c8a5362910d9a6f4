"""`rankrag-lite merge`: the merged model gives base + adapter's next-token logits (fp32, < 1e-4)."""

from __future__ import annotations

import json
from pathlib import Path

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


# --- the streaming merge on a Llama-3-shaped bf16 model of several shards -----------------------------

LLAMA3_TOK = Path(__file__).parent / "fixtures" / "llama3" / "llama3-8b-tokenizer"
PROJ = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def _llama3_shaped(dest: Path, *, shard: str = "8MB") -> Path:
    """A random bf16 model shaped like Llama 3 (GQA, rope theta 500k, untied head, its real tokenizer
    and licence files), saved in several safetensors shards."""
    import shutil

    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=128256, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, rope_theta=500000.0,
                      tie_word_embeddings=False, max_position_embeddings=1024,
                      bos_token_id=128000, eos_token_id=128001)
    model = LlamaForCausalLM(cfg).to(torch.bfloat16)
    model.save_pretrained(str(dest), max_shard_size=shard)
    AutoTokenizer.from_pretrained(LLAMA3_TOK).save_pretrained(str(dest))
    for name in ("LICENSE", "USE_POLICY.md"):
        shutil.copy(LLAMA3_TOK / name, dest / name)
    return dest


def _random_adapter(base: Path, dest: Path, **lora) -> Path:
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(str(base), dtype=torch.bfloat16)
    cfg = LoraConfig(r=4, lora_alpha=8, target_modules=PROJ, init_lora_weights=False,
                     task_type="CAUSAL_LM", **lora)
    peft_model = get_peft_model(model, cfg)
    torch.manual_seed(1)
    with torch.no_grad():
        for name, p in peft_model.named_parameters():
            if "lora_" in name:
                p.copy_(torch.randn_like(p) * 0.2)
    peft_model.save_pretrained(str(dest))
    return dest


def _tensors(folder: Path) -> dict:
    from safetensors.torch import load_file

    out = {}
    for f in sorted(folder.glob("*.safetensors")):
        out.update(load_file(str(f)))
    return out


def _peft_reference(base: Path, adapter: Path) -> dict:
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(str(base), dtype=torch.bfloat16)
    merged = PeftModel.from_pretrained(model, str(adapter)).merge_and_unload()
    return {k: v.detach() for k, v in merged.state_dict().items()}


@pytest.mark.parametrize("lora", [{}, {"use_rslora": True, "alpha_pattern": {"down_proj": 2}}],
                         ids=["plain", "rslora-alpha-pattern"])
def test_streaming_merge_equals_peft_merge_shard_by_shard(tmp_path, lora):
    from rankrag_lite.training.merge import merge_adapter

    base = _llama3_shaped(tmp_path / "base")
    n_shards = len(list(base.glob("*.safetensors")))
    assert n_shards >= 3  # the point: several shards, streamed one at a time
    adapter = _random_adapter(base, tmp_path / "adapter", **lora)
    out = merge_adapter(adapter, tmp_path / "merged")

    # same shard layout and index, bf16 like the base (config too), licence files beside
    assert sorted(p.name for p in out.glob("*.safetensors")) == sorted(p.name for p in base.glob("*.safetensors"))
    assert json.loads((out / "model.safetensors.index.json").read_text())["weight_map"] == \
        json.loads((base / "model.safetensors.index.json").read_text())["weight_map"]
    assert json.loads((out / "config.json").read_text())["dtype"] == "bfloat16"
    assert (out / "LICENSE").exists() and (out / "USE_POLICY.md").exists()
    assert (out / "tokenizer.json").exists()

    mine, ref, orig = _tensors(out), _peft_reference(base, adapter), _tensors(base)
    assert set(mine) == set(orig)
    changed = 0
    for key, t in mine.items():
        assert t.dtype == torch.bfloat16, key
        # peft adds a bf16-rounded delta to the bf16 weight (two roundings); the stream rounds once
        torch.testing.assert_close(t.float(), ref[key].float(), rtol=2 ** -7, atol=1e-6, msg=key)
        changed += int(not torch.equal(t, orig[key]))
    assert changed == 7 * 2  # every projection of both layers took its delta, nothing else moved


def test_merge_reads_a_hub_base_from_the_offline_cache_in_bf16(tmp_path):
    """The bug this fixes: a hub base fell back to fp32 (no local config.json) and loaded whole."""
    import os
    import subprocess
    import sys

    cache = tmp_path / "hub"
    rev = "0123456789abcdef0123456789abcdef01234567"
    repo = cache / "models--unsloth--llama-3-8b"
    _llama3_shaped(repo / "snapshots" / rev)
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(rev)
    adapter = _random_adapter(repo / "snapshots" / rev, tmp_path / "adapter")
    cfg = json.loads((adapter / "adapter_config.json").read_text())
    cfg["base_model_name_or_path"] = "unsloth/llama-3-8b"
    (adapter / "adapter_config.json").write_text(json.dumps(cfg))
    env = {**os.environ, "HF_HUB_CACHE": str(cache), "HF_HUB_OFFLINE": "1", "RANKRAG_LITE_QUIET": "1"}
    res = subprocess.run([sys.executable, "-m", "rankrag_lite", "merge", str(tmp_path / "adapter"),
                          "--out", str(tmp_path / "merged")], env=env, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    merged = _tensors(tmp_path / "merged")
    assert {t.dtype for t in merged.values()} == {torch.bfloat16}
    assert json.loads((tmp_path / "merged" / "config.json").read_text())["dtype"] == "bfloat16"


def test_prequantised_names_map_to_their_16bit_repo():
    from rankrag_lite.errors import RankragError
    from rankrag_lite.training.merge import sixteen_bit_base

    assert sixteen_bit_base("unsloth/llama-3-8b") == "unsloth/llama-3-8b"
    assert sixteen_bit_base("unsloth/llama-3-8b-bnb-4bit") == "unsloth/llama-3-8b"  # Unsloth's own table
    assert sixteen_bit_base("unsloth/llama-3-8b-Instruct-bnb-4bit") == "unsloth/llama-3-8b-Instruct"
    with pytest.raises(RankragError, match="probably 'someone/model-7b'"):
        sixteen_bit_base("someone/model-7b-bnb-4bit")


def test_merge_redoes_a_finetune_outputs_merge_alone(tmp_path):
    """`rankrag-lite merge OUT` writes OUT/merged from OUT/adapter (a merge that failed after training)."""
    base = _llama3_shaped(tmp_path / "base")
    run = tmp_path / "s1"
    _random_adapter(base, run / "adapter")
    res = CliRunner().invoke(app, ["merge", str(run)])
    assert res.exit_code == 0, res.output
    assert (run / "merged" / "config.json").exists()
    assert (run / "adapter" / "adapter_config.json").exists()
    res = CliRunner().invoke(app, ["merge", str(tmp_path / "nothing-here")])
    assert res.exit_code == 2
