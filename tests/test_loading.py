"""rankrag_lite.modeling.loading: which folder or hub name ``--model`` means (an adapter without weights,
a hub name offline or unreachable, a finetune output folder) and the cap on ``--max-length``."""

from __future__ import annotations

import json
import time

import pytest

from cli_helpers import cli, one_line_error, run_cli, write_jsonl
from rankrag_lite.errors import RankragError
from rankrag_lite.io import read_jsonl
from small_corpus import DOCS


def test_adapter_folder_without_weights(tmp_path):
    ad = tmp_path / "adapter"
    ad.mkdir()
    (ad / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": "smollm2-135m",
                                                         "peft_type": "LORA"}))
    cands = write_jsonl(tmp_path / "c.jsonl", [{"qid": "1", "question": "q", "passages": [{"pid": "p", "text": "t"}]}])
    one_line_error(cli("rerank", "--model", ad, "--input", cands, "--out", tmp_path / "r.jsonl"),
                   "adapter_config.json but no adapter weights")
    assert not (tmp_path / "r.jsonl").exists()

def test_hub_names_fail_fast_offline_and_without_network(tmp_path):
    cands = write_jsonl(tmp_path / "c.jsonl", [{"qid": "1", "question": "q", "passages": [{"pid": "p", "text": "t"}]}])
    base = ["rerank", "--input", cands, "--out", tmp_path / "r.jsonl", "--model"]
    cache = dict(HF_HOME=str(tmp_path / "hf"), HF_HUB_CACHE=str(tmp_path / "hf" / "hub"))
    t0 = time.time()
    res = run_cli(*base, "gpt2", HF_HUB_OFFLINE="1", **cache)  # a hub name without an org is a hub name
    assert res.returncode == 2 and res.stderr.strip().splitlines() == [
        "error: unknown model 'gpt2': not a local folder, and not in the local hub cache "
        "(HF_HUB_OFFLINE is set: nothing is downloaded)"]
    t_offline = time.time() - t0  # a CLI start that stops at the first check: the baseline of this machine now
    t1 = time.time()
    res = run_cli(*base, "nobody-here/no-such-model", HF_HUB_OFFLINE="0", HF_ENDPOINT="http://127.0.0.1:9",
                  **cache)
    lines = res.stderr.strip().splitlines()
    assert res.returncode == 2 and len(lines) == 1 and "cannot reach the hub" in lines[0], res.stderr
    # one reachability check, no retries with back-off (those take minutes): at most a few CLI starts'
    # worth of time, relative to the baseline measured just above (a loaded machine slows both)
    assert time.time() - t1 < 3 * t_offline + 20
    assert not (tmp_path / "r.jsonl").exists()

def test_resolve_model_hub_names():
    from rankrag_lite.modeling.loading import resolve_model

    for bad in ("a/b/c", "../x", "has space"):
        with pytest.raises(RankragError, match="unknown model"):
            resolve_model(bad)

def test_a_finetune_output_folder_names_its_model(tmp_path):
    from rankrag_lite.modeling.loading import resolve_model

    out = tmp_path / "run"
    (out / "adapter").mkdir(parents=True)
    (out / "adapter" / "adapter_config.json").write_text("{}")
    (out / "adapter" / "adapter_model.safetensors").write_bytes(b"")
    assert resolve_model(out) == str(out / "adapter")
    (out / "merged").mkdir()
    (out / "merged" / "config.json").write_text("{}")
    assert resolve_model(out) == str(out / "merged")  # merged first, as finetune --model takes it
    with pytest.raises(RankragError, match="not a model folder"):
        resolve_model(tmp_path)

def test_max_length_above_the_model_context_is_capped(tiny_model_path, capsys):
    from transformers import AutoConfig

    from rankrag_lite.modeling.loading import check_max_length

    cfg = AutoConfig.from_pretrained(tiny_model_path)
    ctx = cfg.max_position_embeddings
    assert check_max_length(cfg, ctx) == ctx
    assert check_max_length(cfg, 12000) == ctx
    assert f"--max-length 12000 is above the model's context of {ctx} tokens" in capsys.readouterr().err

@pytest.mark.slow
def test_rerank_caps_max_length(tmp_path):
    cands = write_jsonl(tmp_path / "c.jsonl", [{"qid": "1", "question": "who wrote hamlet", "passages": [
        {"pid": "d1", "text": DOCS[0]["text"]}, {"pid": "d2", "text": DOCS[1]["text"]}]}])
    res = cli("rerank", "--model", "smollm2-135m", "--input", cands, "--out", tmp_path / "r.jsonl",
              "--max-length", "12000")
    assert res.exit_code == 0, res.output
    assert "--max-length 12000 is above the model's context of 8192 tokens" in res.output
    assert len(read_jsonl(tmp_path / "r.jsonl")) == 1
