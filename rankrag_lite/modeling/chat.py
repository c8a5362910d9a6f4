"""Chat rendering and assistant-only labels, for any tokenizer.

Training needs to know which tokens the assistant wrote. Templates with ``{% generation %}`` markers
tell that directly, but most (SmolLM2's, Llama-3's) lack them. This module finds the assistant spans
in a way that works for any template: it renders the conversation up to each assistant turn with the
generation prompt (the prefix) and with that turn (the prefix plus the reply and its end-of-turn
text); the characters in between are the reply. Tokens whose characters fall in a reply are trained
on; everything else gets the label ``-100``. The end-of-turn token (``<|im_end|>``, ``<|eot_id|>``)
lies inside the span, so the model learns to stop.

Models without a chat template use the paper's ChatQA plain-text format
(:func:`rankrag_lite.prompts.render_chatqa`) with the EOS token after each reply.
"""

from __future__ import annotations

from collections.abc import Sequence

from rankrag_lite.errors import RankragError
from rankrag_lite.prompts import render_chatqa

IGNORE = -100


def has_template(tokenizer) -> bool:
    return bool(getattr(tokenizer, "chat_template", None))


def render(tokenizer, messages: Sequence[dict], add_generation_prompt: bool = False) -> str:
    """The text the model sees: the tokenizer's chat template, or ChatQA plain text without one."""
    messages = list(messages)
    if has_template(tokenizer):
        return tokenizer.apply_chat_template(
            messages, tokenize=False, add_generation_prompt=add_generation_prompt
        )
    text = (getattr(tokenizer, "bos_token", None) or "") + render_chatqa(
        messages, add_generation_prompt=add_generation_prompt
    )
    if not add_generation_prompt and messages and messages[-1]["role"] == "assistant":
        text += tokenizer.eos_token or ""
    return text


def encode(tokenizer, text: str) -> list[int]:
    """Token ids of a text made by :func:`render`: it already holds its special tokens (the template's,
    or the BOS the plain format writes as text), so the tokenizer adds none. Training and scoring both
    tokenise through here."""
    return tokenizer(text, add_special_tokens=False)["input_ids"]


def prompt_text(tokenizer, messages: Sequence[dict]) -> str:
    """A prompt ending where the assistant's reply starts (a trailing assistant turn is dropped): what
    the scorer, the answerer and the scripts render (the one prompt renderer; :func:`render` with its
    ``add_generation_prompt=False`` default renders whole conversations for training)."""
    msgs = list(messages)
    if msgs and msgs[-1]["role"] == "assistant":
        msgs = msgs[:-1]
    return render(tokenizer, msgs, add_generation_prompt=True)


def assistant_char_spans(tokenizer, messages: Sequence[dict], last_turn_only: bool = False
                         ) -> tuple[str, list[tuple[int, int]]]:
    """``(full text, [(start, end) character spans of the assistant replies])``."""
    messages = list(messages)
    full = render(tokenizer, messages)
    # the plain ChatQA format writes the EOS after the final reply only: an earlier reply ends where
    # the next turn's separator starts
    eos = "" if has_template(tokenizer) else (tokenizer.eos_token or "")
    spans: list[tuple[int, int]] = []
    for i, m in enumerate(messages):
        if m["role"] != "assistant":
            continue
        prefix = render(tokenizer, messages[:i], add_generation_prompt=True)
        upto = render(tokenizer, messages[: i + 1])
        if eos and i < len(messages) - 1 and upto.endswith(eos):
            upto = upto[: -len(eos)]
        if not (upto.startswith(prefix) and full.startswith(upto)):
            raise RankragError(
                "the chat template does not render conversations prefix by prefix; "
                "cannot find the assistant turns (use a template that does)"
            )
        if len(upto) > len(prefix):
            spans.append((len(prefix), len(upto)))
    if last_turn_only and spans:
        spans = spans[-1:]
    return full, spans


def tokenize_chat(tokenizer, messages: Sequence[dict], max_length: int | None = None,
                  last_turn_only: bool = False) -> dict:
    """``{"input_ids", "labels"}`` with labels only on assistant tokens (``-100`` elsewhere).

    ``last_turn_only`` trains on the last assistant reply only (the paper's Stage 1). Sequences longer
    than ``max_length`` keep their start.
    """
    full, spans = assistant_char_spans(tokenizer, messages, last_turn_only)
    if getattr(tokenizer, "is_fast", False):
        enc = tokenizer(full, add_special_tokens=False, return_offsets_mapping=True)
        ids = enc["input_ids"]
        labels = [IGNORE] * len(ids)
        j = 0
        for k, (s, e) in enumerate(enc["offset_mapping"]):
            while j < len(spans) and spans[j][1] <= s:
                j += 1
            if j < len(spans) and e > s and s >= spans[j][0] and e <= spans[j][1]:
                labels[k] = ids[k]
    else:  # slow tokenizers: token prefixes
        ids, labels, pos = [], [], 0
        for s, e in spans:
            head = tokenizer(full[pos:s], add_special_tokens=False)["input_ids"] if s > pos else []
            body = tokenizer(full[s:e], add_special_tokens=False)["input_ids"]
            ids += head + body
            labels += [IGNORE] * len(head) + body
            pos = e
        tail = tokenizer(full[pos:], add_special_tokens=False)["input_ids"] if pos < len(full) else []
        ids += tail
        labels += [IGNORE] * len(tail)
    if max_length is not None:
        ids, labels = ids[:max_length], labels[:max_length]
    return {"input_ids": ids, "labels": labels}
