"""``rankrag-lite export --format sentence-transformers``, checked with the real sentence-transformers.

For the shipped adapter (merged on the way) and for a tiny random Llama-3-shaped model with Meta's real
Llama 3 tokenizer (no chat template: the plain ChatQA prompt, " True" after "Assistant:"),
``CrossEncoder(OUT)`` (no extra arguments, trust_remote_code off) predicts the kit's
logit(True) - logit(False) to 1e-4 on fixture pairs and ranks like ``RankRAG.rank``; the calibration, the
model card, the licence files and the kit's own loading of the folder travel with it. The chat template
is generated from ``rankrag_lite/prompts.py`` and renders what the kit renders, on both Llama 3
tokenizers (with and without a chat template).
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from typer.testing import CliRunner

from inference_helpers import LLAMA3_TOKENIZERS, char_level_model, short, tiny_llama3, twowiki
from rankrag_lite import prompts
from rankrag_lite.cli import app
from rankrag_lite.errors import RankragError
from rankrag_lite.ranking.calibration import Calibration, to_logit

pytest.importorskip("sentence_transformers", reason="sentence-transformers is in the 'dense' extra (make setup)")


def _question_and_docs(n_passages: int = 4, max_chars: int = 160):
    """The first 2Wiki fixture question and its first passages (text only: a CrossEncoder document is a
    plain string, scored by the kit as a passage without a title); one with messy whitespace."""
    rec = twowiki(1)[0]
    docs = [short(p["text"], max_chars) for p in rec["passages"][:n_passages]]
    docs[-1] = "  " + docs[-1].replace(" ", "  \n", 3) + "\t"
    return rec["question"], docs


def _kit_logits(model, tok, pairs) -> np.ndarray:
    """The kit's raw P(True) over {True, False}, as its logit (rankrag_lite.ranking.calibration.to_logit)."""
    from rankrag_lite.ranking.scorer import PTrueScorer

    probs = PTrueScorer(model, tok, calibration=None).score(pairs)
    assert all(1e-5 < p < 1 - 1e-5 for p in probs), probs  # away from float32 saturation
    return to_logit(probs)


def _order(results) -> list[int]:
    return [r["corpus_id"] for r in results]


@pytest.fixture(scope="module")
def shipped_export(tmp_path_factory):
    from rankrag_lite.export import export_model

    out = tmp_path_factory.mktemp("export") / "smollm2-135m-rankrag-st"
    return export_model("smollm2-135m-rankrag", out)


@pytest.mark.slow
def test_shipped_adapter_cross_encoder_equals_kit(shipped_export, shipped_rankrag):
    from sentence_transformers import CrossEncoder

    question, docs = _question_and_docs()
    pairs = [(question, d) for d in docs]
    ce = CrossEncoder(str(shipped_export))
    z = ce.predict(pairs)
    kit = _kit_logits(shipped_rankrag.model, shipped_rankrag.tokenizer, pairs)
    np.testing.assert_allclose(z, kit, atol=1e-4, rtol=0)
    assert _order(ce.rank(question, docs)) == _order(shipped_rankrag.rank(question, docs))
    # the calibration travels: the card's formula on z gives the kit's calibrated scores
    cal = json.loads((shipped_export / "calibration.json").read_text())
    src = Calibration.load(shipped_rankrag.model.rankrag_source + "/calibration.json")
    assert (cal["temperature"], cal["bias"]) == (src.temperature, src.bias)
    assert cal["fit"]["exported_from"]["fingerprint"] == src.fingerprint
    calibrated = 1 / (1 + np.exp(-(z / cal["temperature"] + cal["bias"])))
    np.testing.assert_allclose(calibrated, shipped_rankrag.score(pairs), atol=1e-4, rtol=0)


@pytest.mark.slow
def test_shipped_export_folder_and_card(shipped_export, shipped_rankrag):
    from rankrag_lite import RankRAG

    modules = json.loads((shipped_export / "modules.json").read_text())
    assert [m["type"].rsplit(".", 1)[-1] for m in modules] == ["Transformer", "LogitScore"]
    head = json.loads((shipped_export / "1_LogitScore" / "config.json").read_text())
    tokens = shipped_rankrag.scorer.tokens
    assert (head["true_token_id"], head["false_token_id"]) == (tokens.true_id, tokens.false_id)
    st = json.loads((shipped_export / "config_sentence_transformers.json").read_text())
    assert st["activation_fn"] == "torch.nn.modules.linear.Identity" and st["model_type"] == "CrossEncoder"
    bert = json.loads((shipped_export / "sentence_bert_config.json").read_text())
    assert bert["transformer_task"] == "text-generation"
    assert bert["modality_config"]["message"]["format"] == "structured"
    for name in ("recipe.yaml", "train_summary.json", "metrics.json", "chat_template.jinja", "rankrag_export.json"):
        assert (shipped_export / name).is_file(), name
    assert not any(p.name.startswith(".") for p in shipped_export.iterdir())  # no staging left behind
    card = (shipped_export / "README.md").read_text()
    for text in (prompts.SYSTEM_PROMPT, prompts.RANK_INSTRUCTION.format(question="{query}"), "Passage: {document}",
                 f"id {tokens.true_id}", f"id {tokens.false_id}", "Apache-2.0", "temperature", "calibration.json",
                 "recipe.yaml", "Recall@2"):
        assert text in card, text
    assert (shipped_export / "LICENSE").is_file()
    # the kit loads the exported folder as it loads the source: same (calibrated) scores
    question, docs = _question_and_docs(n_passages=2)
    again = RankRAG.from_pretrained(str(shipped_export), device="cpu")
    assert again.scorer.calibrated
    np.testing.assert_allclose(again.score_passages(question, docs), shipped_rankrag.score_passages(question, docs),
                               atol=1e-5, rtol=0)


@pytest.fixture(scope="module")
def llama3_base_folder(tmp_path_factory):
    """A tiny random Llama-3-shaped model beside Meta's base tokenizer and its licence files."""
    from transformers import AutoTokenizer

    folder = tmp_path_factory.mktemp("llama3") / "tiny-llama3"
    src = LLAMA3_TOKENIZERS / "llama3-8b-tokenizer"
    tiny_llama3().save_pretrained(folder)
    AutoTokenizer.from_pretrained(src).save_pretrained(folder)
    for name in ("LICENSE", "NOTICE", "USE_POLICY.md"):
        shutil.copy(src / name, folder / name)
    return folder


@pytest.mark.slow
def test_llama3_shaped_model_through_the_cli(llama3_base_folder, tmp_path):
    from sentence_transformers import CrossEncoder

    from rankrag_lite import RankRAG

    out = tmp_path / "st"
    res = CliRunner().invoke(app, ["export", str(llama3_base_folder), str(out), "--format", "sentence-transformers"])
    assert res.exit_code == 0, res.output
    kit = RankRAG.from_pretrained(str(llama3_base_folder), device="cpu")
    assert kit.scorer.tokens.lead == " "  # plain ChatQA: " True" after "Assistant:"
    question, docs = _question_and_docs(n_passages=5, max_chars=120)
    pairs = [(question, d) for d in docs]
    kit_z = _kit_logits(kit.model, kit.tokenizer, pairs)
    assert np.min(np.diff(np.sort(kit_z))) > 1e-4  # distinct scores: the order below is meaningful
    ce = CrossEncoder(str(out))
    np.testing.assert_allclose(ce.predict(pairs), kit_z, atol=1e-4, rtol=0)
    assert _order(ce.rank(question, docs)) == _order(kit.rank(question, docs))
    for name in ("LICENSE", "NOTICE", "USE_POLICY.md"):
        assert (out / name).read_bytes() == (llama3_base_folder / name).read_bytes()
    assert not (out / "calibration.json").exists()
    card = (out / "README.md").read_text()
    assert "LICENSE" in card and "no full-precision `calibration.json`" in card
    assert "System: " + prompts.SYSTEM_PROMPT in card and "\n\nAssistant:\n" in card
    # the kit reads the folder back with the plain format (no chat template), as the source
    meta = json.loads((out / "rankrag_export.json").read_text())
    assert meta["source_chat_template"] is None and meta["answer_lead"] == " "
    np.testing.assert_allclose(RankRAG.from_pretrained(str(out), device="cpu").score(pairs), kit.score(pairs),
                               atol=1e-5, rtol=0)


@pytest.mark.slow
def test_finetune_output_with_a_lora_adapter_is_merged(llama3_base_folder, tmp_path):
    """A finetune output folder (OUT/adapter beside recipe.yaml): merged on the way, its recipe carried."""
    import torch
    from peft import LoraConfig, get_peft_model
    from sentence_transformers import CrossEncoder
    from transformers import AutoModelForCausalLM

    from rankrag_lite import RankRAG
    from rankrag_lite.export import export_model

    run = tmp_path / "run"
    torch.manual_seed(1)
    base = AutoModelForCausalLM.from_pretrained(llama3_base_folder)
    lora = LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj", "down_proj"], init_lora_weights=False)
    get_peft_model(base, lora).save_pretrained(run / "adapter")
    (run / "recipe.yaml").write_text("seed: 0\nfinetune: {model: tiny-llama3}\n")
    out = export_model(str(run), tmp_path / "st")
    assert (out / "recipe.yaml").read_text() == (run / "recipe.yaml").read_text()
    assert (out / "LICENSE").is_file()  # the base's licence files travel with the merged model
    meta = json.loads((out / "rankrag_export.json").read_text())
    assert meta["base"] == str(llama3_base_folder)
    question, docs = _question_and_docs(n_passages=3, max_chars=100)
    pairs = [(question, d) for d in docs]
    kit = RankRAG.from_pretrained(str(run), device="cpu")
    plain = RankRAG.from_pretrained(str(llama3_base_folder), device="cpu")
    kit_z = _kit_logits(kit.model, kit.tokenizer, pairs)
    assert np.max(np.abs(kit_z - _kit_logits(plain.model, plain.tokenizer, pairs))) > 1e-3  # the adapter counts
    np.testing.assert_allclose(CrossEncoder(str(out)).predict(pairs), kit_z, atol=1e-4, rtol=0)


@pytest.mark.parametrize("name", ["llama3-8b-tokenizer", "llama3-8b-instruct-tokenizer"])
def test_template_is_generated_from_the_prompt_module(name):
    from transformers import AutoTokenizer

    from rankrag_lite.export import check_template, pair_messages, ranking_chat_template
    from rankrag_lite.modeling.chat import encode, render

    tok = AutoTokenizer.from_pretrained(LLAMA3_TOKENIZERS / name)
    template = ranking_chat_template(tok)
    check_template(tok, template)
    question, docs = _question_and_docs(n_passages=2)
    for doc in docs:
        kit = render(tok, prompts.ranking_prompt(question, doc), add_generation_prompt=True)
        text = tok.apply_chat_template(pair_messages(question, doc), chat_template=template, tokenize=False)
        assert text == kit
        assert encode(tok, text).count(128000) == 1
    with pytest.raises(Exception, match="query.*document"):
        tok.apply_chat_template([{"role": "user", "content": "hi"}], chat_template=template, tokenize=False)


def test_template_follows_a_changed_prompt(monkeypatch):
    """Change the prompt module's wording: the generated template follows (it holds no copy of it)."""
    from transformers import AutoTokenizer

    from rankrag_lite.export import check_template, ranking_chat_template

    tok = AutoTokenizer.from_pretrained(LLAMA3_TOKENIZERS / "llama3-8b-instruct-tokenizer")
    monkeypatch.setattr(prompts, "RANK_INSTRUCTION", "Is this passage relevant to {question}? True or False.")
    template = ranking_chat_template(tok)
    assert "Is this passage relevant to " in template and "access whether" not in template
    check_template(tok, template)


def test_bad_input_is_one_line_and_writes_nothing(tmp_path):
    from rankrag_lite.export import export_model

    def run(*args):
        return CliRunner().invoke(app, ["export", *map(str, args)])

    cases = [
        (("smollm2-135m-rankrag", tmp_path / "a", "--format", "onnx"), "unknown export format 'onnx'"),
        ((tmp_path / "missing", tmp_path / "b"), "unknown model"),
        ((tmp_path, tmp_path / "c"), "not a model folder"),
    ]
    (tmp_path / "exists").mkdir()
    cases.append((("smollm2-135m-rankrag", tmp_path / "exists"), "output exists"))
    for args, message in cases:
        res = run(*args)
        assert res.exit_code == 2, res.output
        lines = res.output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], res.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["exists"]
    with pytest.raises(RankragError, match="unknown export format"):
        export_model("smollm2-135m-rankrag", tmp_path / "d", "gguf")
    # "True" is four tokens for a character-level tokenizer: no LogitScore can read it
    model = char_level_model(tmp_path / "chars")
    with pytest.raises(RankragError, match="does not encode 'True' as one token"):
        export_model(str(model), tmp_path / "e")
    assert not (tmp_path / "e").exists() and not list(tmp_path.glob(".e*"))
