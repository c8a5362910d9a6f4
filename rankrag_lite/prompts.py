"""RankRAG prompt templates: the only place a prompt string lives.

Wording follows Yu et al. (NeurIPS 2024, arXiv 2407.02485), App. C-D, in the ChatQA format,
including the paper's own typo "access whether" (kept so that prompts match the paper).

Every task is rendered as chat ``messages`` (system / user / assistant), which any tokenizer chat
template can format; :func:`render_chatqa` renders the same messages in ChatQA's plain-text format
for base models without a chat template. Training (blend building) and inference (scoring,
answering) call the same functions, so a model is always scored on the prompt it was trained on.

Layout of one example (paper): system text, then the passage block, then the user turn. With a
chat template the system text is the system message and the passage block + user text form the
(first) user message.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

SYSTEM_PROMPT = (
    "This is a chat between a user and an artificial intelligence assistant. "
    "The assistant gives helpful, detailed, and polite answers to the user's questions based on "
    "the context. The assistant should also indicate when the answer cannot be found in the context."
)

#: Context ranking (paper verbatim, "access" included).
RANK_INSTRUCTION = (
    "For the question {question}, access whether the passage is relevant to the question. "
    "Return True if relevant, otherwise False."
)
#: Retrieval-augmented ranking (paper verbatim).
RA_RANK_INSTRUCTION = (
    "For the question {question}, access whether the above passages are relevant to the question. "
    "Return all the relevant passage id."
)
#: Open-domain QA at inference (paper verbatim).
INFERENCE_QA_INSTRUCTION = "{question}. Answer the above question with a short phrase."
#: FEVER-style claims (paper verbatim).
CLAIM_RANK_INSTRUCTION = (
    "For the claim {claim}, access whether the passage is relevant to the claim. "
    "Return True if relevant, otherwise False."
)
CLAIM_ANSWER_INSTRUCTION = (
    "Answer the following question with True or False. Is the claim '{claim}' correct?"
)

SHORT_SPAN = "Answer the following question with a short span."
#: Per-dataset instructions for context-rich QA (paper, App. C).
DATASET_INSTRUCTIONS: dict[str, str] = {
    "drop": SHORT_SPAN,
    "narrativeqa": SHORT_SPAN,
    "quoref": SHORT_SPAN,
    "ropes": SHORT_SPAN,
    "squad": SHORT_SPAN,
    "newsqa": SHORT_SPAN,
    "tatqa": "Answer the following question with a number from the context or through math arithmetic.",
    "tatqa-arithmetic": "Answer the following question with a number from the context or through math arithmetic.",
    "convqa": "Please give a full and complete answer for the question.",
}

TRUE = "True"
FALSE = "False"
#: Output of retrieval-augmented ranking when no passage is relevant (the paper gives no format;
#: this kit's documented choice).
NO_RELEVANT = "None"


@dataclass(frozen=True)
class PromptPassage:
    """What a prompt needs of a passage."""

    text: str
    title: str = ""


def _as_passage(p) -> PromptPassage:
    if isinstance(p, PromptPassage):
        return p
    if isinstance(p, str):
        return PromptPassage(text=p)
    if isinstance(p, dict):
        return PromptPassage(text=p.get("text", ""), title=p.get("title") or "")
    return PromptPassage(text=getattr(p, "text"), title=getattr(p, "title", "") or "")


def format_passage_body(passage) -> str:
    """A passage's text with its title on the first line (when it has one)."""
    p = _as_passage(passage)
    body = " ".join(p.text.split())
    return f"{p.title}\n{body}" if p.title else body


def passage_block(passage) -> str:
    """``Passage: ...`` (single context)."""
    return f"Passage: {format_passage_body(passage)}"


def passages_block(passages: Sequence) -> str:
    """``Passage 1: ...`` to ``Passage n: ...`` (numbered contexts, 1-based)."""
    return "\n\n".join(
        f"Passage {i}: {format_passage_body(p)}" for i, p in enumerate(passages, start=1)
    )


def format_relevant_ids(ids: Sequence[int]) -> str:
    """Target of retrieval-augmented ranking: 1-based ids as ``Passage 2, Passage 5`` (or ``None``)."""
    ids = sorted(set(int(i) for i in ids))
    return ", ".join(f"Passage {i}" for i in ids) if ids else NO_RELEVANT


_ID_RE = re.compile(r"Passage\s+(\d+)", re.IGNORECASE)


def parse_relevant_ids(text: str) -> list[int]:
    """Inverse of :func:`format_relevant_ids` (tolerant of extra words)."""
    return sorted({int(m) for m in _ID_RE.findall(text)})


def _messages(context: str, user_turns: Sequence[str], assistant_turns: Sequence[str],
              system: str = SYSTEM_PROMPT) -> list[dict]:
    """System + alternating user/assistant turns; the context block opens the first user turn."""
    if not user_turns:
        raise ValueError("a prompt needs at least one user turn")
    msgs: list[dict] = [{"role": "system", "content": system}]
    for i, user in enumerate(user_turns):
        content = f"{context}\n\n{user}" if (i == 0 and context) else user
        msgs.append({"role": "user", "content": content})
        if i < len(assistant_turns):
            msgs.append({"role": "assistant", "content": assistant_turns[i]})
    return msgs


def _history_turns(history: Sequence[dict] | None, user: str, answer: str | None):
    users: list[str] = []
    assistants: list[str] = []
    for turn in history or []:
        (users if turn["role"] == "user" else assistants).append(turn["content"])
    users.append(user)
    if answer is not None:
        assistants.append(answer)
    return users, assistants


def sft_chat(messages: Sequence[dict]) -> list[dict]:
    """SFT chat (blend part 1): the conversation as given, under the shared ChatQA system turn
    (a conversation that brings its own system turn keeps it)."""
    msgs = [{"role": m["role"], "content": m["content"]} for m in messages]
    if not msgs or msgs[0]["role"] != "system":
        msgs.insert(0, {"role": "system", "content": SYSTEM_PROMPT})
    return msgs


def context_rich_qa(question: str, passage, answer: str | None = None, dataset: str | None = None,
                    history: Sequence[dict] | None = None) -> list[dict]:
    """Context-rich QA: ``Passage: {gold}`` + (history) + question with the dataset's instruction."""
    instruction = DATASET_INSTRUCTIONS.get((dataset or "").lower())
    user = f"{instruction} {question}" if instruction else question
    users, assistants = _history_turns(history, user, answer)
    return _messages(passage_block(passage), users, assistants)


def retrieval_augmented_qa(question: str, passages: Sequence, answer: str | None = None) -> list[dict]:
    """Retrieval-augmented QA (training): ``Passage 1..n`` + ``{question}``."""
    return _messages(passages_block(passages), [question], [answer] if answer is not None else [])


def context_ranking(question: str, passage, label: bool | None = None) -> list[dict]:
    """Context ranking: ``Passage: ...`` + the True/False relevance question."""
    target = [] if label is None else [TRUE if label else FALSE]
    return _messages(passage_block(passage), [RANK_INSTRUCTION.format(question=question)], target)


def retrieval_augmented_ranking(question: str, passages: Sequence,
                                relevant_ids: Sequence[int] | None = None) -> list[dict]:
    """Retrieval-augmented ranking: ``Passage 1..n`` -> the 1-based ids of the relevant ones."""
    target = [] if relevant_ids is None else [format_relevant_ids(relevant_ids)]
    return _messages(passages_block(passages), [RA_RANK_INSTRUCTION.format(question=question)], target)


def inference_qa(question: str, passages: Sequence, answer: str | None = None) -> list[dict]:
    """Open-domain QA at inference: top-k ``Passage 1..k`` + ``... with a short phrase.``"""
    user = INFERENCE_QA_INSTRUCTION.format(question=question.strip().rstrip("."))
    return _messages(passages_block(passages), [user], [answer] if answer is not None else [])


def claim_ranking(claim: str, passage, label: bool | None = None) -> list[dict]:
    """FEVER-style claim/evidence relevance: True/False."""
    target = [] if label is None else [TRUE if label else FALSE]
    return _messages(passage_block(passage), [CLAIM_RANK_INSTRUCTION.format(claim=claim)], target)


def claim_verification(claim: str, passages: Sequence, label: bool | None = None) -> list[dict]:
    """FEVER-style verification from the top-k passages: True/False."""
    target = [] if label is None else [TRUE if label else FALSE]
    return _messages(passages_block(passages), [CLAIM_ANSWER_INSTRUCTION.format(claim=claim)], target)


def ranking_prompt(question: str, passage, claim: bool = False) -> list[dict]:
    """The prompt that scoring feeds the model (no target): the training prompt, without the answer."""
    return claim_ranking(question, passage) if claim else context_ranking(question, passage)


def render_chatqa(messages: Sequence[dict], add_generation_prompt: bool | None = None) -> str:
    """ChatQA plain-text format for base models without a chat template.

    ``System: ...\\n\\n{first user turn}`` then ``User: ...`` / ``Assistant: ...`` turns. Where the
    first user turn carries a context block, the block stands before ``User:`` as in the paper.
    If the messages end with a user turn (or ``add_generation_prompt``), ends with ``Assistant:``.
    """
    parts: list[str] = []
    for i, m in enumerate(messages):
        role, content = m["role"], m["content"]
        if role == "system":
            parts.append(f"System: {content}")
        elif role == "user":
            if i <= 1 and "\n\n" in content and content.startswith("Passage"):
                context, user = content.rsplit("\n\n", 1)
                parts.append(context)
                parts.append(f"User: {user}")
            else:
                parts.append(f"User: {content}")
        elif role == "assistant":
            parts.append(f"Assistant: {content}")
        else:
            raise ValueError(f"unknown role {role!r}")
    if add_generation_prompt is None:
        add_generation_prompt = messages[-1]["role"] != "assistant"
    if add_generation_prompt:
        parts.append("Assistant:")
    return "\n\n".join(parts)


@dataclass(frozen=True)
class RankingExample:
    """A ranking example read back from its messages (:func:`read_ranking_example`)."""

    question: str  #: the question (or claim)
    passages: tuple[PromptPassage, ...]  #: the passage(s) shown, in order
    labels: tuple[bool, ...]  #: per passage: relevant according to the example's target
    claim: bool  #: the FEVER claim prompt


def _fill_parts(template: str, field: str) -> tuple[str, str]:
    head, _, tail = template.partition("{" + field + "}")
    return head, tail


def _read_body(body: str) -> PromptPassage:
    """Inverse of :func:`format_passage_body` (its text never holds a newline: the title ends at the last one)."""
    title, sep, text = body.rpartition("\n")
    return PromptPassage(text=text, title=title if sep else "")


def read_ranking_example(messages: Sequence[dict]) -> RankingExample | None:
    """The question, passages and labels of a context-ranking (:func:`context_ranking`,
    :func:`claim_ranking`) or retrieval-augmented-ranking (:func:`retrieval_augmented_ranking`)
    example with its target; ``None`` for any other messages."""
    if len(messages) < 3 or [m.get("role") for m in messages[:3]] != ["system", "user", "assistant"]:
        return None
    user, target = str(messages[1].get("content", "")), str(messages[2].get("content", "")).strip()
    context, _, instruction = user.rpartition("\n\n")
    for template, field, claim, many in ((RANK_INSTRUCTION, "question", False, False),
                                         (CLAIM_RANK_INSTRUCTION, "claim", True, False),
                                         (RA_RANK_INSTRUCTION, "question", False, True)):
        head, tail = _fill_parts(template, field)
        if not (instruction.startswith(head) and instruction.endswith(tail) and len(instruction) > len(head + tail)):
            continue
        question = instruction[len(head): len(instruction) - len(tail)]
        if not many:
            if not context.startswith("Passage: ") or target not in (TRUE, FALSE):
                return None
            return RankingExample(question, (_read_body(context[len("Passage: "):]),), (target == TRUE,), claim)
        blocks = context.split("\n\n")
        passages = []
        for i, block in enumerate(blocks, start=1):
            if not block.startswith(f"Passage {i}: "):
                return None
            passages.append(_read_body(block[len(f"Passage {i}: "):]))
        relevant = set(parse_relevant_ids(target))
        return RankingExample(question, tuple(passages), tuple(i in relevant for i in range(1, len(passages) + 1)),
                              False)
    return None
