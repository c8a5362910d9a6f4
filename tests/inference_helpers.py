"""Helpers shared by the ranking / generation / evaluation / rag tests (not a test module)."""

from __future__ import annotations

import json
from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures" / "inference"
TWOWIKI = FIXTURES / "twowiki_dev20.jsonl"
DL19 = FIXTURES / "dl19_bm25_top20.json"
DL19_QRELS = FIXTURES / "dl19_qrels.txt"


def twowiki(n: int = 20) -> list[dict]:
    return [json.loads(line) for line in TWOWIKI.read_text().splitlines()[:n]]


def short(text: str, max_chars: int | None = 160) -> str:
    """The start of a passage (whole words), to keep the tiny model's tests quick on 2 shared cores."""
    if max_chars is None or len(text) <= max_chars:
        return text
    return text[:max_chars].rsplit(" ", 1)[0]


def candidates_from_twowiki(path: Path, n: int = 2, passages: int = 10, max_chars: int | None = 160) -> Path:
    """A candidates JSONL {qid, question, answers, passages[{pid, title, text, is_gold}]}."""
    with open(path, "w") as f:
        for rec in twowiki(n):
            ps = [{"pid": f"{rec['id']}-{j}", "title": p["title"], "text": short(p["text"], max_chars),
                   "is_gold": p["is_gold"]}
                  for j, p in enumerate(rec["passages"][:passages])]
            f.write(json.dumps({"qid": rec["id"], "question": rec["question"], "answers": rec["answers"],
                                "passages": ps}) + "\n")
    return path


class StubScorer:
    """Stands in for PTrueScorer in I/O tests: score = word overlap with the question (fast)."""

    method = "true-false"

    def __init__(self, fail_after: int | None = None):
        self.calls = 0
        self.fail_after = fail_after

    def encode_pair(self, question, passage):
        q = set(question.lower().split())
        text = passage["text"] if isinstance(passage, dict) else str(passage)
        return [len(q & set(text.lower().split())), len(text)]

    def score_encoded(self, seqs, on_batch=None):
        self.calls += 1
        if self.fail_after is not None and self.calls > self.fail_after:
            raise RuntimeError("scorer failed")
        if on_batch:
            on_batch(len(seqs))
        return [s[0] + 1.0 / (1 + s[1]) for s in seqs]


def char_level_model(folder: Path) -> Path:
    """A tiny random Llama with a character-level tokenizer: "True" is four tokens."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    vocab = {c: i for i, c in enumerate(sorted(pre_tokenizers.ByteLevel.alphabet()))}
    for s in ("<|im_start|>", "<|im_end|>"):
        vocab[s] = len(vocab)
    tk = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tk.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tk.decoder = decoders.ByteLevel()
    tk.add_special_tokens(["<|im_start|>", "<|im_end|>"])
    tok = PreTrainedTokenizerFast(tokenizer_object=tk, eos_token="<|im_end|>", pad_token="<|im_end|>")
    tok.chat_template = (
        "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
        "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
    )
    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=len(vocab), hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                      num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=4096)
    LlamaForCausalLM(cfg).save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


#: Meta's Llama 3 8B tokenizers (no weights), licence files beside them
LLAMA3_TOKENIZERS = Path(__file__).parent / "fixtures" / "llama3"
LLAMA3_BOS = 128000


def tiny_llama3(seed: int = 0):
    """A tiny randomly initialised fp32 LlamaForCausalLM with Llama 3's 128,256-token vocabulary."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    cfg = LlamaConfig(vocab_size=128256, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                      num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=1024,
                      bos_token_id=LLAMA3_BOS, eos_token_id=128001)
    return LlamaForCausalLM(cfg).eval()
