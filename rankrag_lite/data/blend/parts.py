"""The five parts of the blend: one loaded source -> its examples of one part.

Every example is ``{"messages", "part", "source", "meta": {"qid", "answers", "kind"}}``, its
messages made by :mod:`rankrag_lite.prompts`; each part function also returns how many questions
it skipped (no gold / answer passage, or too few negatives).
"""

from __future__ import annotations

from rankrag_lite import prompts
from rankrag_lite.answers import has_answer
from rankrag_lite.data.blend.config import BlendConfig, seeded_rng
from rankrag_lite.data.blend.passages import cut_passage, ranking_rows
from rankrag_lite.data.blend.source import RANKING_SOURCE_FORMATS, LoadedSource
from rankrag_lite.data.labels import JudgedLabels
from rankrag_lite.errors import RankragError
from rankrag_lite.progress import track


def _ex(messages: list[dict], part: str, source: str, qid: str, answers: list[str], kind: str) -> dict:
    return {"messages": messages, "part": part, "source": source,
            "meta": {"qid": qid, "answers": list(answers), "kind": kind}}


def _need_answers(src: LoadedSource, part: str) -> None:
    if src.fmt in RANKING_SOURCE_FORMATS or not any(q.answers for q in src.queries):
        raise RankragError(f"part {part!r} needs questions with answers; source {src.name!r} "
                           f"({src.where}, format {src.fmt}) has none")


def part_sft(src: LoadedSource, cfg: BlendConfig) -> tuple[list[dict], int]:
    """SFT chat conversations (:func:`prompts.sft_chat`)."""
    if not src.chat:
        raise RankragError(f"part 'sft' needs chat data; source {src.name!r} has none")
    return [_ex(prompts.sft_chat(c["messages"]), "sft", src.name, str(i), [], "chat")
            for i, c in enumerate(src.chat)], 0


def part_context_qa(src: LoadedSource, cfg: BlendConfig) -> tuple[list[dict], int]:
    """The gold passage (one with an answer if any) + history + question -> answer."""
    _need_answers(src, "context_qa")
    out, skipped = [], 0
    for q in src.queries:
        if not q.golds or not q.answers:
            skipped += 1
            continue
        gold = next((p for p in q.golds if has_answer(q.answers, p.text)), q.golds[0])
        shown = cut_passage(gold, cfg.max_passage_words, q.answers)
        msgs = prompts.context_rich_qa(q.text, shown, answer=q.answers[0], dataset=src.spec.qa_instruction,
                                       history=q.history)
        out.append(_ex(msgs, "context_qa", src.name, q.qid, q.answers, "gold"))
    return out, skipped


def part_ra_qa(src: LoadedSource, cfg: BlendConfig) -> tuple[list[dict], int]:
    """Gold (or best answer) passages + hard negatives, ``num_passages`` shuffled -> answer."""
    _need_answers(src, "ra_qa")
    k = cfg.num_passages
    out, skipped = [], 0
    for q in track(src.queries, f"RA-QA {src.name}"):
        if not q.answers:
            skipped += 1
            continue
        golds = q.golds[: k - 1] if q.golds else src.answer_passages(q)[:1]
        if not golds:
            skipped += 1
            continue
        negs = src.negatives(q, golds)[: k - len(golds)]
        if len(golds) + len(negs) < k:
            skipped += 1
            continue
        shown = [cut_passage(p, cfg.max_passage_words, q.answers) for p in golds]
        shown += [cut_passage(p, cfg.max_passage_words) for p in negs]
        seeded_rng(cfg.seed, "ra_qa", src.name, q.qid).shuffle(shown)
        msgs = prompts.retrieval_augmented_qa(q.text, shown, answer=q.answers[0])
        out.append(_ex(msgs, "ra_qa", src.name, q.qid, q.answers, "gold" if q.golds else "answer"))
    return out, skipped


def part_ranking(src: LoadedSource, cfg: BlendConfig, labels: JudgedLabels | None = None) -> tuple[list[dict], int]:
    """(question or claim, passage) -> True / False: positives and hard negatives, lengths matched;
    with ``labels``, the rows the judge disagrees with are dropped."""
    out, skipped = [], 0
    make = prompts.claim_ranking if src.claim else prompts.context_ranking
    n_pos = src.spec.ranking_positives or cfg.ranking_positives
    n_neg = cfg.ranking_negatives if src.spec.ranking_negatives is None else src.spec.ranking_negatives
    for q in track(src.queries, f"ranking {src.name}"):
        pos = src.positives(q)
        if not pos:
            skipped += 1
            continue
        pos = pos[:n_pos]
        negs = src.negatives(q, [p for p, _ in pos])[:n_neg]
        rng = seeded_rng(cfg.seed, "ranking-lengths", src.name, q.qid)
        rows = ranking_rows(pos, negs, q.answers, mode=cfg.negative_lengths, max_words=cfg.max_passage_words,
                            rng=rng)
        kept = {id(r) for r in (rows if labels is None else labels.filter_ranking_rows(
            q.text, rows, paired=cfg.negative_lengths == "paired", part="ranking", source=src.name))}
        for row in rows:
            shown, label, kind = row
            ex = _ex(make(q.text, shown, label=label), "ranking", src.name, q.qid, q.answers, kind)
            if labels is None or labels.admit(ex, id(row) in kept):
                out.append(ex)
    return out, skipped


def part_ra_ranking(src: LoadedSource, cfg: BlendConfig,
                    labels: JudgedLabels | None = None) -> tuple[list[dict], int]:
    """``num_passages`` shuffled passages (1+ positives, the rest hard negatives) -> the relevant ids;
    with ``labels``, a row with a passage the judge disagrees with is dropped."""
    if src.claim:
        raise RankragError(f"part 'ra_ranking' takes questions; source {src.name!r} holds claims")
    k = cfg.num_passages
    out, skipped = [], 0
    for q in track(src.queries, f"RA-ranking {src.name}"):
        rng = seeded_rng(cfg.seed, "ra_ranking", src.name, q.qid)
        pos = [p for p, _ in src.positives(q)]
        if not pos:
            skipped += 1
            continue
        n_pos = rng.randint(1, min(len(pos), k - 1))
        pos = pos[:n_pos]
        negs = src.negatives(q, pos)[: k - n_pos]
        if len(pos) + len(negs) < k:
            skipped += 1
            continue
        shown = [(cut_passage(p, cfg.max_passage_words, q.answers), True) for p in pos]
        shown += [(cut_passage(p, cfg.max_passage_words), False) for p in negs]
        rng.shuffle(shown)
        ids = [i for i, (_, rel) in enumerate(shown, start=1) if rel]
        msgs = prompts.retrieval_augmented_ranking(q.text, [p for p, _ in shown], relevant_ids=ids)
        ex = _ex(msgs, "ra_ranking", src.name, q.qid, q.answers, "ra")
        if labels is None or labels.admit(ex, labels.keeps_ra_row(q.text, shown, part="ra_ranking",
                                                                  source=src.name)):
            out.append(ex)
    return out, skipped


PART_FNS = {"sft": part_sft, "context_qa": part_context_qa, "ra_qa": part_ra_qa, "ranking": part_ranking,
            "ra_ranking": part_ra_ranking}


def build_part(part: str, src: LoadedSource, cfg: BlendConfig,
               labels: JudgedLabels | None = None) -> tuple[list[dict], int]:
    """The examples of ``part`` from ``src`` and the number of questions skipped (``labels``: the
    judge filter of the ranking parts)."""
    if part != "sft" and src.chat:
        raise RankragError(f"part {part!r} needs questions; source {src.name!r} is chat data")
    if part in ("ranking", "ra_ranking"):
        return PART_FNS[part](src, cfg, labels)
    return PART_FNS[part](src, cfg)
