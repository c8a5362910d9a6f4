"""Passages as the blend shows them: cut to ``max_passage_words`` (around the answer), and in the
ranking part cut so that length does not tell True from False (``negative_lengths``)."""

from __future__ import annotations

import random

from rankrag_lite.answers import has_answer
from rankrag_lite.data.schemas import Passage


def cut_passage(p: Passage, max_words: int | None, answers: list[str] | None = None) -> dict:
    """``{title, text}`` with the text cut to ``max_words`` words; with ``answers``, the window of that
    size that contains an answer (the first such), else the first ``max_words`` words."""
    words = p.text.split()
    if max_words is None or len(words) <= max_words:
        return {"title": p.title, "text": " ".join(words)}
    if answers and has_answer(answers, p.text):
        step = max(1, max_words // 4)
        for start in range(0, len(words) - max_words + step, step):
            start = min(start, len(words) - max_words)  # the last window is full-length too
            window = " ".join(words[start:start + max_words])
            if has_answer(answers, window):
                return {"title": p.title, "text": window}
    return {"title": p.title, "text": " ".join(words[:max_words])}


def ranking_rows(positives: list[tuple[Passage, str]], negatives: list[Passage], answers: list[str], *,
                 mode: str, max_words: int | None, rng: random.Random) -> list[tuple[dict, bool, str]]:
    """One query's rows of the ranking part, ``(shown passage, label, kind)``, lengths per ``mode``
    (``BlendConfig.negative_lengths``):

    - ``paired``: per negative, a positive (in turn) then the negative, both cut to the shorter one's
      length (and ``max_words``); no negative, no row.
    - ``cut``: the positives (cut to ``max_words``), then each negative cut to the length of a
      positive drawn with ``rng``; shorter negatives stay as they are.
    - ``off``: the positives, then the negatives, all cut to ``max_words`` only.

    A positive's cut keeps its answer; ``kind`` is the positive's kind or ``{pid}_negative``.
    """
    rows: list[tuple[dict, bool, str]] = []
    if mode == "paired":
        for i, n in enumerate(negatives):
            p, kind = positives[i % len(positives)]
            words = min(len(n.text.split()), len(p.text.split()), max_words or 10**9)
            rows.append((cut_passage(p, words, answers), True, kind))
            rows.append((cut_passage(n, words), False, f"{n.pid}_negative"))
        return rows
    pos_cut = [cut_passage(p, max_words, answers) for p, _ in positives]
    rows += [(cut, True, kind) for (_, kind), cut in zip(positives, pos_cut)]
    pos_lengths = [max(1, len(c["text"].split())) for c in pos_cut]
    for n in negatives:
        words = max_words
        if mode == "cut":
            target = rng.choice(pos_lengths)
            words = target if words is None else min(words, target)
        rows.append((cut_passage(n, words), False, f"{n.pid}_negative"))
    return rows
