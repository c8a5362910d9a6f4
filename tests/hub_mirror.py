"""Hub stand-ins for tests that use hub names with no network: the Llama-3 recipe's datasets in their
real repository layouts, and a tiny random model shaped like Llama 3 8B in a hub cache.

- :func:`build_dataset_mirror` rebuilds each dataset repository by hand in a mirror folder (what
  ``RANKRAG_LITE_HUB_MIRROR`` names): the repository's README configs and data files with one or
  two rows written here in exactly the hub's column names and nesting (ChatQA ``{messages,
  document, answers}``, narrativeqa's list-of-lists answers, the ``sft`` rows without a document
  that end with a user turn, TAT-QA as two files of the ``tatqa`` folder,
  ``stanfordnlp/web_questions``, ``microsoft/ms_marco`` v2.1 parquet, ``rajpurkar/squad`` train
  and validation parquet). ``datasets.load_dataset(<mirror folder>, config, ...)`` reads them as
  it reads the hub.
- :func:`build_model_cache` writes a randomly initialised ``LlamaForCausalLM`` shaped like Llama 3
  8B (GQA, rope theta 500,000, untied LM head, the 128,256-token vocabulary; tiny widths) in
  bfloat16, sharded, with Meta's real Llama 3 8B base tokenizer (``tests/fixtures/llama3``), into
  a hub cache laid out as ``huggingface_hub`` writes it (``HF_HOME/hub/models--org--name/blobs``,
  ``refs/main``, ``snapshots/<rev>`` of links to the blobs), so that with ``HF_HUB_OFFLINE=1`` the
  name (``unsloth/llama-3-8b``) loads from it.

``python tests/hub_mirror.py --mirror DIR --hf-home DIR`` builds both (the README quick-start
rehearsal, ``scripts/rehearse_quickstart.sh``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
from pathlib import Path

CHATQA = "nvidia/ChatQA-Training-Data"
LLAMA3_TOKENIZER = Path(__file__).resolve().parent / "fixtures" / "llama3" / "llama3-8b-tokenizer"
#: the revision the cached model's ``refs/main`` points at (any 40 hex digits)
CACHE_REVISION = "8cde5ca8380496c9a6cc7ef3a8b46a0372a1d920"

DOCS = [
    "The Eiffel Tower in Paris was finished in 1889 for the World's Fair and is 330 metres tall.",
    "Mount Everest, on the border of Nepal and China, is the highest mountain above sea level.",
]
#: more SQuAD train rows (title, context, question, answer): enough paragraphs for the blend's
#: retrieval-augmented parts (the gold passage + 4 BM25 passages)
SQUAD_TRAIN = [  # they share words ("famous", "world", "year", "tower"), so BM25 finds negatives
    ("Nile", "The Nile is a famous river of the world that flows north into the Mediterranean Sea; a tower "
             "on its bank measures the flood each year.",
     "Into which sea does the famous river Nile flow?", "the Mediterranean Sea"),
    ("Mona Lisa", "The Mona Lisa is a famous portrait painted by Leonardo da Vinci; each year visitors from "
                  "all over the world see it in Paris, not far from the tower.",
     "Who painted the famous Mona Lisa?", "Leonardo da Vinci"),
    ("Penicillin", "Penicillin, a famous medicine, was discovered by Alexander Fleming in London in the year "
                   "1928 and changed the world.",
     "Who discovered the famous medicine penicillin?", "Alexander Fleming"),
    ("Mount Kilimanjaro", "Mount Kilimanjaro is a famous mountain in Tanzania, the highest in Africa; climbers "
                          "from around the world reach its summit every year.",
     "In which country is the famous Mount Kilimanjaro?", "Tanzania"),
    ("Pacific Ocean", "The Pacific Ocean is the largest and deepest ocean of the world; famous explorers "
                      "crossed it year after year.",
     "Which is the largest ocean of the world?", "The Pacific Ocean"),
    ("Moon landing", "Apollo 11 was the famous spaceflight that first landed humans on the Moon, in the year "
                     "1969, watched by the whole world.",
     "In which year did the famous Apollo 11 land on the Moon?", "1969"),
]
#: SQuAD validation rows (title, context, question, answer): the quick start's corpus and questions
SQUAD_VALIDATION = [
    ("Amazon River", "The Amazon River in South America is the largest river by discharge volume of water "
                     "in the world, and it flows into the Atlantic Ocean.",
     "Into which ocean does the Amazon flow?", "the Atlantic Ocean"),
    ("Great Wall of China", "The Great Wall of China was built across the historical northern borders of "
                            "ancient Chinese states to protect them against nomadic groups from the steppe.",
     "What did the Great Wall of China protect against?", "nomadic groups"),
    ("Marie Curie", "Marie Curie was a physicist and chemist who conducted pioneering research on "
                    "radioactivity and was the first woman to win a Nobel Prize.",
     "What did Marie Curie research?", "radioactivity"),
]


def _jsonl(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def _readme(repo: Path, configs: dict[str, str | dict[str, str]]) -> None:
    """The repository README's ``configs``: a config's data files (one train pattern, or ``{split: pattern}``)."""
    lines = ["---", "configs:"]
    for name, files in configs.items():
        lines += [f"- config_name: {name}", "  data_files:"]
        for split, pattern in (files.items() if isinstance(files, dict) else [("train", files)]):
            lines += [f"  - split: {split}", f"    path: {pattern}"]
    (repo / "README.md").write_text("\n".join(lines + ["---", "", "hand-written rows in the hub layout", ""]))


def _ctx_row(q: str, doc: str, answers) -> dict:
    return {"messages": [{"role": "user", "content": q}], "document": doc, "answers": answers}


def _squad_rows(rows, prefix: str) -> list[dict]:
    return [{"id": f"{prefix}{i}", "title": t, "context": c, "question": q,
             "answers": {"text": [a], "answer_start": [c.index(a)]}} for i, (t, c, q, a) in enumerate(rows)]


def build_dataset_mirror(root: str | os.PathLike) -> Path:
    """Write the mirror of the Llama-3 recipe's hub datasets (and the quick start's) under ``root``."""
    import datasets

    root = Path(root)
    repo = root / CHATQA
    configs: dict = {}
    for name in ("drop", "quoref", "ropes"):
        _jsonl(repo / name / "train.json", [_ctx_row("When was the tower finished?", DOCS[0], ["1889"]),
                                            _ctx_row("Which is the highest mountain?", DOCS[1], ["Mount Everest"])])
        configs[name] = f"{name}/*"
    _jsonl(repo / "narrativeqa" / "train.json",
           [_ctx_row("Where is the tower?", DOCS[0], [["Paris", "in Paris"]]),
            _ctx_row("Where is Everest?", DOCS[1], [["Nepal and China"]])])
    configs["narrativeqa"] = "narrativeqa/*"
    _jsonl(repo / "tatqa" / "train_arithmetic.json", [_ctx_row("How tall in metres?", DOCS[0], ["330"])])
    _jsonl(repo / "tatqa" / "train_others.json", [_ctx_row("Which fair?", DOCS[0], ["the World's Fair"])])
    configs["tatqa"] = "tatqa/*"
    _jsonl(repo / "synthetic_convqa" / "train.json", [
        {"messages": [{"role": "user", "content": "What is the tower?"}, {"role": "assistant", "content": "A tower."},
                      {"role": "user", "content": "When was it finished?"}], "document": DOCS[0], "answers": ["1889"]},
        {"messages": [{"role": "user", "content": "Where is Everest?"}], "document": DOCS[1],
         "answers": ["On the border of Nepal and China."]}]
        + [_ctx_row(q, c, [a]) for _, c, q, a in SQUAD_TRAIN[1:3]])  # BM25 negatives for the ranking part
    configs["synthetic_convqa"] = "synthetic_convqa/*"
    _jsonl(repo / "sft" / "train.json", [
        {"messages": [{"role": "user", "content": "Say hi."}], "answers": ["Hi!"]},
        {"messages": [{"role": "user", "content": "Count to two."}, {"role": "assistant", "content": "1, 2"},
                      {"role": "user", "content": "And to three?"}], "answers": ["1, 2, 3"]}])
    configs["sft"] = "sft/*"
    (repo / "newsqa").mkdir()
    (repo / "newsqa" / "README.md").write_text("NewsQA: build it with the loading script (licence).\n")
    configs["newsqa"] = "newsqa/*.json"
    _readme(repo, configs)

    squad = root / "rajpurkar/squad"
    (squad / "plain_text").mkdir(parents=True)
    datasets.Dataset.from_list(_squad_rows(
        [("Eiffel Tower", DOCS[0], "How tall is the Eiffel Tower?", "330 metres"),
         ("Mount Everest", DOCS[1], "Where is Mount Everest?", "Nepal")] + SQUAD_TRAIN, "s")
    ).to_parquet(str(squad / "plain_text" / "train-00000-of-00001.parquet"))
    datasets.Dataset.from_list(_squad_rows(SQUAD_VALIDATION, "v")).to_parquet(
        str(squad / "plain_text" / "validation-00000-of-00001.parquet"))
    _readme(squad, {"plain_text": {"train": "plain_text/train-*", "validation": "plain_text/validation-*"}})
    wq = root / "stanfordnlp/web_questions"
    _jsonl(wq / "data" / "train.json", [{"url": "http://www.freebase.com/view/en/eiffel_tower",
                                         "question": "what year was the eiffel tower finished?", "answers": ["1889"]}])
    _readme(wq, {"default": "data/train.json"})
    marco = root / "microsoft/ms_marco"
    (marco / "v2.1").mkdir(parents=True)

    def mrow(qid, query, sel):
        return {"answers": ["x"], "passages": {"is_selected": sel, "passage_text": [DOCS[0], DOCS[1]],
                                               "url": ["http://a", "http://b"]},
                "query": query, "query_id": qid, "query_type": "DESCRIPTION", "wellFormedAnswers": []}

    datasets.Dataset.from_list([mrow(1, "highest mountain", [0, 0]), mrow(2, "eiffel tower height", [1, 0]),
                                mrow(3, "everest location", [0, 1])]
                               ).to_parquet(str(marco / "v2.1" / "train-00000-of-00001.parquet"))
    _readme(marco, {"v2.1": "v2.1/train-*"})
    return root


def llama3_shaped_config(**overrides):
    """A ``LlamaConfig`` with Llama 3 8B's structure (GQA 4:1 query to key/value heads, rope theta
    500,000, untied LM head, its vocabulary and special token ids) at tiny widths, bfloat16."""
    from transformers import LlamaConfig

    # every projection's output width a multiple of 32: bitsandbytes' CPU NF4 kernel packs 32 rows
    cfg = dict(vocab_size=128256, hidden_size=128, intermediate_size=256, num_hidden_layers=2,
               num_attention_heads=4, num_key_value_heads=1, max_position_embeddings=8192,
               rope_theta=500000.0, rms_norm_eps=1e-5, tie_word_embeddings=False, bos_token_id=128000,
               eos_token_id=128001, hidden_act="silu", attention_bias=False, mlp_bias=False,
               torch_dtype="bfloat16")
    return LlamaConfig(**{**cfg, **overrides})


def build_model_cache(hf_home: str | os.PathLike, repo_id: str = "unsloth/llama-3-8b", *, seed: int = 0,
                      max_shard_size: str = "24MB") -> Path:
    """Write the Llama-3-shaped random model as ``repo_id`` into the hub cache under ``hf_home``
    (``hf_home/hub``); returns its snapshot folder. The weights are bf16 safetensors in several
    shards (with the index), as the real 8B repository's."""
    import tempfile

    import torch
    from transformers import AutoTokenizer, GenerationConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    cfg = llama3_shaped_config()
    model = LlamaForCausalLM(cfg).to(torch.bfloat16)
    repo = Path(hf_home) / "hub" / ("models--" + repo_id.replace("/", "--"))
    snapshot = repo / "snapshots" / CACHE_REVISION
    with tempfile.TemporaryDirectory() as tmp:
        model.save_pretrained(tmp, max_shard_size=max_shard_size)
        GenerationConfig(bos_token_id=cfg.bos_token_id, eos_token_id=cfg.eos_token_id).save_pretrained(tmp)
        AutoTokenizer.from_pretrained(LLAMA3_TOKENIZER).save_pretrained(tmp)
        for name in ("LICENSE", "USE_POLICY.md", "NOTICE"):
            shutil.copy(LLAMA3_TOKENIZER / name, Path(tmp) / name)
        (repo / "blobs").mkdir(parents=True, exist_ok=True)
        snapshot.mkdir(parents=True, exist_ok=True)
        for f in sorted(Path(tmp).iterdir()):
            digest = hashlib.sha256(f.read_bytes()).hexdigest()
            blob = repo / "blobs" / digest
            shutil.move(str(f), blob)
            (snapshot / f.name).symlink_to(os.path.relpath(blob, snapshot))
    (repo / "refs").mkdir(exist_ok=True)
    (repo / "refs" / "main").write_text(CACHE_REVISION)
    return snapshot


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mirror", type=Path, help="folder for the dataset mirror (RANKRAG_LITE_HUB_MIRROR)")
    ap.add_argument("--hf-home", type=Path, help="HF_HOME for the hub cache holding the model")
    ap.add_argument("--model", default="unsloth/llama-3-8b", help="hub name the model stands in for")
    args = ap.parse_args()
    if args.mirror:
        build_dataset_mirror(args.mirror)
    if args.hf_home:
        print(build_model_cache(args.hf_home, args.model))


if __name__ == "__main__":
    main()
