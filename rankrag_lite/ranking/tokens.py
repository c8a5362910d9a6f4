"""Detection of the "True" / "False" answer tokens (where the answer starts after the prompt).

The ranking score reads the model's next-token distribution right after the generation prompt,
so the token ids must be those the model emits *there*: with SmolLM2's chat template the
assistant turn starts on a new line ("...<|im_start|>assistant\\n" then "True"), while the
plain ChatQA format ends with "Assistant:" and the answer follows after a space (" True").
:func:`answer_token_ids` finds out by rendering the prompt with and without the answer and
tokenising both.

Prompts are rendered and tokenised in one home, :mod:`rankrag_lite.modeling.chat` (``render`` for a
conversation, ``prompt_text`` for a prompt ending where the reply starts, ``encode``), exactly as
training does.
"""

from __future__ import annotations

from dataclasses import dataclass

from rankrag_lite import prompts
from rankrag_lite.errors import RankragError
from rankrag_lite.modeling import chat


@dataclass(frozen=True)
class AnswerTokens:
    true_id: int
    false_id: int
    lead: str  # text between the generation prompt and the answer word ("" or " ")


def _continuation(tokenizer, word: str) -> tuple[str, str]:
    """(prompt, the text the template puts between the prompt and ``word``)."""
    msgs = prompts.context_ranking("q", "p")
    prompt = chat.render(tokenizer, msgs, add_generation_prompt=True)
    full = chat.render(tokenizer, msgs + [{"role": "assistant", "content": word}], add_generation_prompt=False)
    if not full.startswith(prompt) or word not in full[len(prompt):]:
        # Templates that rewrite earlier turns: fall back to "no separator".
        return prompt, ""
    rest = full[len(prompt):]
    return prompt, rest[: rest.index(word)]


def answer_token_ids(tokenizer) -> AnswerTokens:
    """Ids of the first (and only) token of "True" and of "False" where the answer starts.

    Raises :class:`RankragError` when either word is not a single token in that position.
    """
    ids = {}
    lead = ""
    for word in (prompts.TRUE, prompts.FALSE):
        prompt, lead = _continuation(tokenizer, word)
        base = chat.encode(tokenizer, prompt)
        with_word = chat.encode(tokenizer, prompt + lead + word)
        extra = with_word[len(base):]
        if with_word[: len(base)] != base or len(extra) != 1:
            pieces = tokenizer.convert_ids_to_tokens(chat.encode(tokenizer, lead + word) if lead else
                                                     tokenizer(word, add_special_tokens=False)["input_ids"])
            raise RankragError(
                f"the tokenizer does not encode {lead + word!r} as one token after the prompt "
                f"(got {pieces}); P(True) scoring needs single-token 'True' and 'False'"
            )
        ids[word] = extra[0]
    if ids[prompts.TRUE] == ids[prompts.FALSE]:
        raise RankragError("'True' and 'False' map to the same token; cannot score")
    return AnswerTokens(true_id=ids[prompts.TRUE], false_id=ids[prompts.FALSE], lead=lead)
