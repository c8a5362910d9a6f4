"""The record schemas every loader produces and every later stage consumes.

- :class:`Passage`: one context (id, title, text, optional gold flag and retrieval score).
- :class:`QAItem`: a question with its answers, optional passages (gold flags) and chat history.
- :class:`RankingItem`: a query with positive and negative passages (MS MARCO / BEIR style).
- :class:`ChatItem`: an SFT conversation as chat ``messages``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Passage:
    text: str
    title: str = ""
    pid: str = ""
    is_gold: bool | None = None
    score: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}

    @classmethod
    def from_dict(cls, d: dict) -> "Passage":
        return cls(
            text=d.get("text", ""),
            title=d.get("title") or "",
            pid=str(d.get("pid", d.get("id", "")) or ""),
            is_gold=d.get("is_gold"),
            score=d.get("score"),
        )


@dataclass
class QAItem:
    qid: str
    question: str
    answers: list[str]
    passages: list[Passage] = field(default_factory=list)
    history: list[dict] = field(default_factory=list)  # earlier turns: {role, content}
    source: str = ""

    @property
    def gold_passages(self) -> list[Passage]:
        return [p for p in self.passages if p.is_gold]

    def to_dict(self) -> dict[str, Any]:
        return {
            "qid": self.qid,
            "question": self.question,
            "answers": list(self.answers),
            "passages": [p.to_dict() for p in self.passages],
            "history": list(self.history),
            "source": self.source,
        }

    @classmethod
    def from_dict(cls, d: dict) -> "QAItem":
        return cls(
            qid=str(d.get("qid", "")),
            question=d["question"],
            answers=list(d.get("answers", [])),
            passages=[Passage.from_dict(p) for p in d.get("passages", [])],
            history=list(d.get("history", [])),
            source=d.get("source", ""),
        )


@dataclass
class RankingItem:
    qid: str
    query: str
    positives: list[Passage]
    negatives: list[Passage] = field(default_factory=list)
    source: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "qid": self.qid,
            "query": self.query,
            "positives": [p.to_dict() for p in self.positives],
            "negatives": [p.to_dict() for p in self.negatives],
            "source": self.source,
        }

    @classmethod
    def from_dict(cls, d: dict) -> "RankingItem":
        return cls(
            qid=str(d.get("qid", "")),
            query=d["query"],
            positives=[Passage.from_dict(p) for p in d.get("positives", [])],
            negatives=[Passage.from_dict(p) for p in d.get("negatives", [])],
            source=d.get("source", ""),
        )


@dataclass
class ChatItem:
    messages: list[dict]
    source: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"messages": self.messages, "source": self.source}
