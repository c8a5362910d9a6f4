"""Chat formats -> :class:`~rankrag_lite.data.schemas.ChatItem` (SFT ``messages``).

``chat`` (``{messages[{role, content}]}``), ``dolly`` (``{instruction, context, response}``,
databricks-dolly-15k) and ``chatqa`` (ChatQA rows ``{messages, document, answers}``, which are also
context-rich QA items: the last user turn is the question, the document its gold passage)."""

from __future__ import annotations

from collections.abc import Iterator

from rankrag_lite.data.schemas import ChatItem, Passage, QAItem
from rankrag_lite.errors import RankragError
from rankrag_lite.formats.fields import Records, need, objects, record_id, str_list

ROLES = ("system", "user", "assistant")


def sniff_chatqa(rec: dict) -> bool:
    """ChatQA rows; its ``sft`` rows ``{messages, answers}`` end with a user turn answered by answers[0]."""
    return "messages" in rec and ("document" in rec or "answers" in rec)


def sniff_chat(rec: dict) -> bool:
    return "messages" in rec


def sniff_dolly(rec: dict) -> bool:
    return "instruction" in rec and "response" in rec


def _item(msgs: list[dict], source: str, where: str, i: int) -> ChatItem:
    if not any(m["role"] == "assistant" for m in msgs):
        raise RankragError(f"{where}: record {i + 1} has no assistant turn")
    return ChatItem(messages=msgs, source=source)


def _messages(rec: dict, where: str, i: int) -> list[dict]:
    msgs = []
    for m in need(rec, "messages", where, i):
        if not isinstance(m, dict) or "role" not in m or "content" not in m:
            raise RankragError(f"{where}: record {i + 1} has a message without 'role'/'content'")
        if m["role"] not in ROLES:
            raise RankragError(f"{where}: record {i + 1} has a message with role {m['role']!r}")
        msgs.append({"role": m["role"], "content": str(m["content"])})
    return msgs


def read_dolly(recs: Records) -> Iterator[ChatItem]:
    """The context (if any) goes before the instruction in the user turn."""
    where = recs.where
    for i, rec in enumerate(recs.records):
        inst = str(need(rec, "instruction", where, i))
        ctx = str(rec.get("context") or "").strip()
        msgs = [{"role": "user", "content": f"{ctx}\n\n{inst}" if ctx else inst},
                {"role": "assistant", "content": str(need(rec, "response", where, i))}]
        yield _item(msgs, str(rec.get("category") or recs.name), where, i)


def read_chat(recs: Records) -> Iterator[ChatItem]:
    for i, rec in enumerate(recs.records):
        msgs = _messages(rec, recs.where, i)
        yield _item(msgs, str(rec.get("source") or recs.name), recs.where, i)


def read_chatqa_chat(recs: Records) -> Iterator[ChatItem]:
    """Messages ending with a user turn get ``answers[0]`` as the final assistant turn; the document
    goes before the first user turn."""
    where = recs.where
    for i, rec in enumerate(recs.records):
        msgs = _messages(rec, where, i)
        doc = str(rec.get("document") or "").strip()
        if msgs and msgs[-1]["role"] == "user":
            answers = str_list(rec.get("answers"))
            if not answers:
                raise RankragError(f"{where}: record {i + 1}: 'messages' end with a user turn and "
                                   "'answers' is empty (no reply to train on)")
            msgs.append({"role": "assistant", "content": answers[0]})
        if doc:
            first = next(k for k, m in enumerate(msgs) if m["role"] == "user")
            msgs[first] = {"role": "user", "content": f"{doc}\n\n{msgs[first]['content']}"}
        yield _item(msgs, str(rec.get("source") or recs.name), where, i)


def read_chatqa_qa(recs: Records) -> Iterator[QAItem]:
    """The last user turn is the question (a final assistant turn is the answer when ``answers`` is
    empty), earlier turns its history, the document its gold passage."""
    where = recs.where
    for i, rec in objects(recs):
        qid = record_id(rec, i)
        msgs = list(need(rec, "messages", where, i))
        answers = str_list(rec.get("answers"))
        if msgs and msgs[-1].get("role") == "assistant":
            answers = answers or [msgs[-1]["content"]]
            msgs = msgs[:-1]
        if not msgs or msgs[-1].get("role") != "user":
            raise RankragError(f"{where}: record {i + 1}: 'messages' must end with a user turn")
        doc = str(need(rec, "document", where, i))
        yield QAItem(qid=qid, question=msgs[-1]["content"], answers=answers,
                     passages=[Passage(text=doc, pid=f"doc-{qid}", is_gold=True)] if doc.strip() else [],
                     history=[{"role": m["role"], "content": m["content"]} for m in msgs[:-1]])
