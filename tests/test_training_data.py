"""Fast training tests: assistant-only labels, recipe validation, bad-input CLI errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rankrag_lite import prompts
from rankrag_lite.cli import app
from rankrag_lite.recipes import load_recipe
from rankrag_lite.errors import RankragError
from rankrag_lite.modeling.chat import IGNORE, assistant_char_spans, tokenize_chat
from rankrag_lite.training.data import load_chat_records, tokenize_records
from rankrag_lite.training.config import stage_config

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def tok(tiny_model_path):
    from rankrag_lite.modeling.loading import load_tokenizer

    return load_tokenizer(tiny_model_path)


@pytest.fixture(scope="module")
def multi_turn(fixtures):
    rows = [json.loads(x) for x in (fixtures / "sft_chat_40.jsonl").read_text().splitlines()]
    return next(r for r in rows if sum(m["role"] == "assistant" for m in r["messages"]) >= 2)


def _trained_segments(row):
    """Decoded runs of consecutive trained tokens."""
    segs, cur = [], []
    for tid, lab in zip(row["input_ids"], row["labels"]):
        if lab != IGNORE:
            assert lab == tid
            cur.append(tid)
        elif cur:
            segs.append(cur)
            cur = []
    if cur:
        segs.append(cur)
    return segs


def test_labels_cover_only_assistant_tokens(tok, multi_turn):
    msgs = multi_turn["messages"]
    replies = [m["content"] for m in msgs if m["role"] == "assistant"]
    row = tokenize_chat(tok, msgs)
    segs = [tok.decode(s) for s in _trained_segments(row)]
    assert len(segs) == len(replies)
    for seg, reply in zip(segs, replies):
        # the reply, then the end-of-turn token (so the model learns to stop); nothing of the prompt
        assert seg.strip().startswith(reply.strip()[:50])
        assert seg.rstrip().endswith("<|im_end|>")
        assert "<|im_start|>" not in seg and "user" not in seg[len(reply):]
    # prompts (system/user) are never trained
    user = next(m["content"] for m in msgs if m["role"] == "user")[:40]
    assert user in tok.decode(row["input_ids"])
    assert all(user not in s for s in segs)


def test_last_turn_only(tok, multi_turn):
    msgs = multi_turn["messages"]
    row = tokenize_chat(tok, msgs, last_turn_only=True)
    segs = [tok.decode(s) for s in _trained_segments(row)]
    assert len(segs) == 1
    assert segs[0].strip().startswith(msgs[-1]["content"].strip()[:50])


def test_ranking_example_trains_only_the_label(tok):
    msgs = prompts.context_ranking("who wrote hamlet", {"title": "Hamlet", "text": "A play by Shakespeare."}, True)
    row = tokenize_chat(tok, msgs)
    (seg,) = [tok.decode(s) for s in _trained_segments(row)]
    assert seg.strip() == "True<|im_end|>"


def test_template_free_tokenizer_uses_chatqa_format(tok):
    import copy

    plain = copy.deepcopy(tok)
    plain.chat_template = None
    msgs = prompts.context_ranking("q?", "some passage", False)
    full, spans = assistant_char_spans(plain, msgs)
    assert "Assistant: False" in full and full.endswith(plain.eos_token)
    (s, e), = spans
    assert full[s:e].strip() == "False" + plain.eos_token


def test_max_length_truncation_drops_examples_without_answer(tok, multi_turn):
    with pytest.raises(RankragError, match="max_length"):
        tokenize_records(tok, [multi_turn], max_length=8, last_turn_only=True)


def test_examples_cut_by_max_length_are_counted_per_part(tok):
    from rankrag_lite.training.data import data_stats

    short_row = {"part": "ranking", "messages": prompts.context_ranking("q?", "a passage", True)}
    passages = [{"title": f"T{i}", "text": "word " * 60} for i in range(5)]
    long_row = {"part": "ra_ranking",
                "messages": prompts.retrieval_augmented_ranking("q?", passages, relevant_ids=[2])}
    rows = tokenize_records(tok, [short_row, long_row], max_length=200)
    stats = data_stats([short_row, long_row], rows)
    assert stats["examples"] == 1 and stats["dropped"] == 1
    assert stats["parts"] == {"ranking": 1}  # what is trained on, not what was read


def test_tiny_recipe_max_length_keeps_every_part_of_its_blend(tok, fixtures):
    """The tiny recipe's max_length keeps the answers of the long five-passage rows (a 512 cut lost
    every retrieval-augmented row of the real blend)."""
    stage = stage_config(load_recipe(ROOT / "recipes" / "tiny-cpu.yaml"), 2)
    passages = [{"title": f"Title {i}", "text": " ".join(["passage"] * 100)} for i in range(5)]
    msgs = prompts.retrieval_augmented_ranking("which passages are about it?", passages, relevant_ids=[1, 4])
    row = tokenize_chat(tok, msgs, max_length=stage.max_length)
    assert tok.decode([t for t, lab in zip(row["input_ids"], row["labels"]) if lab != IGNORE]).startswith(
        "Passage 1, Passage 4")


def test_recipes_validate(tmp_path):
    tiny = load_recipe(ROOT / "recipes" / "tiny-cpu.yaml")
    s1, s2 = stage_config(tiny, 1), stage_config(tiny, 2)
    assert s1.last_turn_only and not s2.last_turn_only
    assert s1.model == "smollm2-135m" and s1.backend == "hf" and s1.lr <= 5e-4
    big = load_recipe(ROOT / "recipes" / "llama3-8b-qlora.yaml")
    b1 = stage_config(big, 1)
    assert b1.backend == "unsloth" and b1.load_in_4bit and b1.lora.r == 16 and b1.lora.alpha == 16
    assert len(b1.lora.target_modules) == 7
    bad = tmp_path / "bad.yaml"
    bad.write_text("finetune:\n  stage1:\n    lrr: 1.0e-4\n")
    with pytest.raises(RankragError, match="lrr"):
        stage_config(load_recipe(bad), 1)
    bad.write_text("finetune:\n  max_length: big\n")
    with pytest.raises(RankragError, match="max_length"):
        stage_config(load_recipe(bad), 1)


# ---------------------------------------------------------------- bad input through the CLI


@pytest.fixture()
def recipe(tmp_path):
    p = tmp_path / "r.yaml"
    p.write_text("finetune:\n  backend: hf\n  model: smollm2-135m\n  max_length: 128\n")
    return p


def _run(args):
    res = CliRunner().invoke(app, args)
    return res, (res.stderr if hasattr(res, "stderr") else res.output)


def _assert_one_line_error(res, err, needle, out: Path):
    assert res.exit_code != 0
    lines = [x for x in err.strip().splitlines() if x.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), err
    assert needle in lines[0]
    assert not out.exists()
    assert not any(p.name.startswith(f".{out.name}") for p in out.parent.iterdir())


def test_cli_missing_blend(recipe, tmp_path):
    out = tmp_path / "o"
    res, err = _run(["finetune", "--stage", "2", "--recipe", str(recipe), "--data",
                     str(tmp_path / "nope.jsonl"), "--out", str(out)])
    _assert_one_line_error(res, err, "not found", out)


def test_cli_blend_without_messages(recipe, tmp_path):
    data = tmp_path / "blend.jsonl"
    data.write_text(json.dumps({"prompt": "x", "completion": "y"}) + "\n")
    out = tmp_path / "o"
    res, err = _run(["finetune", "--stage", "2", "--recipe", str(recipe), "--data", str(data), "--out", str(out)])
    _assert_one_line_error(res, err, "messages", out)


def test_cli_unknown_model(recipe, tmp_path, fixtures):
    out = tmp_path / "o"
    res, err = _run(["finetune", "--stage", "1", "--recipe", str(recipe), "--data",
                     str(fixtures / "sft_chat_40.jsonl"), "--model", "no-such-model", "--out", str(out)])
    _assert_one_line_error(res, err, "unknown model", out)


def test_cli_no_data(recipe, tmp_path):
    out = tmp_path / "o"
    res, err = _run(["finetune", "--stage", "2", "--recipe", str(recipe), "--out", str(out)])
    _assert_one_line_error(res, err, "--data", out)


def test_cli_unsloth_where_it_cannot_run(recipe, tmp_path, fixtures, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "unsloth" else real(name, *a))
    out = tmp_path / "o"
    res, err = _run(["finetune", "--stage", "2", "--recipe", str(recipe), "--data",
                     str(fixtures / "blend_tiny.jsonl"), "--backend", "unsloth", "--out", str(out)])
    _assert_one_line_error(res, err, "unsloth", out)


def test_cli_4bit_where_it_cannot_run(recipe, tmp_path, fixtures, monkeypatch):
    from rankrag_lite.modeling import quant

    monkeypatch.setattr(quant, "_probe", lambda device: "bitsandbytes is not installed")
    out = tmp_path / "o"
    res, err = _run(["finetune", "--stage", "2", "--recipe", str(recipe), "--data",
                     str(fixtures / "blend_tiny.jsonl"), "--load-in-4bit", "--out", str(out)])
    _assert_one_line_error(res, err, "--load-in-4bit", out)


def test_cli_merge_without_adapter(tmp_path):
    out = tmp_path / "m"
    (tmp_path / "empty").mkdir()
    res, err = _run(["merge", "--adapter", str(tmp_path / "empty"), "--out", str(out)])
    _assert_one_line_error(res, err, "adapter", out)


def test_load_chat_records_rejects_bad_roles(tmp_path):
    p = tmp_path / "x.jsonl"
    p.write_text(json.dumps({"messages": [{"role": "bot", "content": "hi"}]}) + "\n")
    with pytest.raises(RankragError, match="role"):
        load_chat_records(p)


def test_padding_free_packing_keeps_examples_apart(tiny_model):
    """Packed rows run with reset position_ids, no attention mask and no KV cache (as in training):
    transformers then builds a block-diagonal mask for SDPA, so each example's logits equal those
    of running it alone (despite TRL's warning that only FlashAttention keeps them apart)."""
    import torch

    model, tok = tiny_model
    a = tok("The capital of France is Paris.", add_special_tokens=False).input_ids
    b = tok("Water boils at one hundred degrees.", add_special_tokens=False).input_ids
    ids = torch.tensor([a + b])
    pos = torch.tensor([list(range(len(a))) + list(range(len(b)))])
    with torch.no_grad():
        packed = model(input_ids=ids, position_ids=pos, use_cache=False).logits[0]
        alone_a = model(input_ids=torch.tensor([a])).logits[0]
        alone_b = model(input_ids=torch.tensor([b])).logits[0]
    assert (packed[: len(a)] - alone_a).abs().max() < 1e-3
    assert (packed[len(a):] - alone_b).abs().max() < 1e-3
