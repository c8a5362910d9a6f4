"""Judge labels for the blend's ranking pairs (``rankrag-lite label``) and the judge filter of the blend.

RankRAG's ranking labels are heuristic: a BM25 hit that is not the gold passage (and holds no answer)
is called irrelevant, though some are relevant (false negatives). :func:`label_pairs` reads every
ranking pair of a blend (the context-ranking rows, and each passage of the retrieval-augmented-ranking
rows, with the label its row gives it) or of a pairs file, scores it with a *judge* and writes the
pairs with the judge's scores to a new JSONL file (the blend is not touched). :class:`JudgedLabels`
reads that file back for ``build-blend`` (``blend.judge`` in the recipe), which drops the negatives the
judge rates as relevant and the positives it rates as irrelevant.

Judges (``--judge``, repeatable):

- a model the kit scores with: ``smollm2-135m``, ``smollm2-135m-rankrag``, a model or adapter folder,
  a hub name: its P("True") from :class:`~rankrag_lite.ranking.scorer.PTrueScorer`, calibrated when the
  model has a ``calibration.json`` fitted for that prompt (the claim prompt of a QA-calibrated model
  is raw P(True));
- ``minilm``: the cosine of all-MiniLM-L6-v2 (the ``dense`` extra; :class:`~rankrag_lite.evaluation.rankers.MiniLM`);
- two or more judges: their fusion, as :mod:`rankrag_lite.ranking.fusion` fuses: per question, each
  judge's scores are standardised over that question's pairs in the file (P(True) as its logit) and
  averaged. A fused score is a z-score: 0 is the question's mean, not a probability; it needs a
  question's pairs judged together (a sample that leaves a question one pair gives it 0).

Pairs are identified by :func:`pair_key` (question, passage title and text, whitespace-normalised),
so the same pair repeated in the blend is scored once and ``build-blend`` finds a pair again when it
rebuilds the same blend. Output records::

    {"key", "question", "title", "text", "label", "claim", "part", "source", "qid", "kind",
     "scores": {judge: score, ...}, "score", "judge"}

Resumable: scores are appended to ``.FILE.partial`` (beside ``FILE``) chunk by chunk; a run killed
midway continues from it when started again with the same input and judges (another input's or
judge's partial file is discarded). A sample (``--sample-negatives`` / ``--sample-positives``) is
scored in its draw order, so a run stopped early and started again with a smaller sample of the same
seed keeps every score it has. ``FILE`` itself is written atomically at the end, under
:func:`~rankrag_lite.io.output_lock`. The chunks are scored by :func:`score_chunk`, the one place a
distributed (Ray) executor would replace.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from rankrag_lite import prompts
from rankrag_lite.errors import RankragError
from rankrag_lite.io import atomic_write, dumps, iter_jsonl, iter_jsonl_lines, output_lock, sha256_file
from rankrag_lite.progress import log, make_progress

MINILM = "minilm"
#: the blend parts whose rows are ranking pairs
RANKING_PARTS = ("ranking", "ra_ranking")
#: default thresholds the summary counts at, per kind of score
SUMMARY_THRESHOLDS = {"p_true": (0.5, 0.7, 0.9), "cosine": (0.5, 0.6, 0.7), "fused": (0.0, 0.5, 1.0)}


def pair_key(question: str, passage) -> str:
    """The id of a (question, passage) pair: a hash of the question, the title and the text, each
    whitespace-normalised."""
    p = prompts._as_passage(passage)
    raw = "\x1f".join((" ".join(str(question).split()), " ".join((p.title or "").split()), " ".join(p.text.split())))
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()[:24]


@dataclass
class Pair:
    """One ranking pair to judge."""

    question: str
    title: str
    text: str
    label: bool | None  #: the blend's label (None: a pairs file without one)
    claim: bool = False  #: the FEVER claim prompt
    part: str | None = None
    source: str | None = None
    qid: str | None = None
    kind: str | None = None

    @property
    def key(self) -> str:
        return pair_key(self.question, self.passage)

    @property
    def passage(self) -> dict:
        return {"title": self.title, "text": self.text}

    def record(self) -> dict:
        return {"key": self.key, "question": self.question, "title": self.title, "text": self.text,
                "label": self.label, "claim": self.claim, "part": self.part, "source": self.source,
                "qid": self.qid, "kind": self.kind}


def _pair_from_record(rec: dict, where: str) -> Pair:
    q, text = rec.get("question"), rec.get("text")
    if not isinstance(q, str) or not q.strip():
        raise RankragError(f"{where}: 'question' must be a non-empty string")
    if not isinstance(text, str) or not text.strip():
        raise RankragError(f"{where}: 'text' must be a non-empty string")
    title = rec.get("title") or ""
    label = rec.get("label")
    if not isinstance(title, str) or not (label is None or isinstance(label, bool)):
        raise RankragError(f"{where}: 'title' must be a string and 'label' true, false or absent")
    return Pair(q, title, text, label, bool(rec.get("claim", False)), rec.get("part"), rec.get("source"),
                None if rec.get("qid") is None else str(rec.get("qid")), rec.get("kind"))


def read_pairs(path: str | os.PathLike) -> list[Pair]:
    """The distinct ranking pairs of a blend (folder: its ``blend.jsonl``; or a blend JSONL file) or of a
    pairs JSONL file (``{question, text, title?, label?, claim?}`` per line; ``label`` output works too),
    in the order they first appear. Rows of the other parts are skipped."""
    path = Path(path)
    if path.is_dir():
        path = path / "blend.jsonl"
    if not path.exists():
        raise RankragError(f"input not found: {path} (a blend folder, a blend JSONL or a pairs JSONL)")
    pairs: dict[str, Pair] = {}
    for lineno, rec in iter_jsonl_lines(path):
        where = f"{path}:{lineno}"
        if not isinstance(rec, dict):
            raise RankragError(f"{where}: expected a JSON object")
        if "messages" in rec:
            msgs = rec["messages"]
            if not isinstance(msgs, list) or not all(isinstance(m, dict) for m in msgs):
                raise RankragError(f"{where}: 'messages' must be a list of {{role, content}} objects")
            ex = prompts.read_ranking_example(msgs)
            if ex is None:
                if rec.get("part") in RANKING_PARTS:
                    raise RankragError(f"{where}: a {rec['part']} row whose messages are not a ranking prompt")
                continue
            meta = rec.get("meta") if isinstance(rec.get("meta"), dict) else {}
            for p, label in zip(ex.passages, ex.labels):
                pair = Pair(ex.question, p.title, p.text, label, ex.claim, rec.get("part"), rec.get("source"),
                            None if meta.get("qid") is None else str(meta["qid"]), meta.get("kind"))
                pairs.setdefault(pair.key, pair)
        elif "question" in rec:
            pair = _pair_from_record(rec, where)
            pairs.setdefault(pair.key, pair)
        else:
            raise RankragError(f"{where}: neither a blend row ('messages') nor a pair ('question', 'text')")
    if not pairs:
        raise RankragError(f"{path}: no ranking pairs (context-ranking or retrieval-augmented-ranking rows, "
                           "or {question, text} records)")
    return list(pairs.values())


def sample_order(pairs: Sequence[Pair], seed: int, negatives: int | None = None,
                 positives: int | None = None) -> list[int]:
    """The indices of a seeded sample: ``negatives`` of the negatives and ``positives`` of the positives
    (None: all of them; pairs without a label: all), in draw order. Each label's pairs are shuffled with
    ``seed`` and the first N taken, so a smaller sample is part of a larger one; the two labels are
    interleaved in proportion, so a run stopped midway has scored a smaller sample of both."""
    rank: dict[int, float] = {}
    for label, n, option in ((False, negatives, "--sample-negatives"), (True, positives, "--sample-positives"),
                             (None, None, "")):
        if n is not None and n < 0:
            raise RankragError(f"{option} must be >= 0, got {n}")
        idx = [i for i, p in enumerate(pairs) if p.label is label]
        random.Random(f"label|{seed}|{label}").shuffle(idx)
        idx = idx if n is None else idx[:n]
        rank.update({i: (r + 0.5) / len(idx) for r, i in enumerate(idx)})
    return sorted(rank, key=lambda i: (rank[i], i))


# -- judges -------------------------------------------------------------------------------------------

class ModelJudge:
    """P("True") of a kit model (question pairs with the context-ranking prompt, claims with the claim one)."""

    kind = "p_true"

    def __init__(self, name: str, *, batch_size: int = 16, score: str = "true-false", load_in_4bit: bool = False,
                 device: str | None = None):
        from rankrag_lite.model import RankRAG
        from rankrag_lite.ranking.scorer import PTrueScorer

        log(f"label: loading judge {name}" + (" in 4-bit" if load_in_4bit else ""))
        rr = RankRAG.from_pretrained(name, batch_size=batch_size, score=score, load_in_4bit=load_in_4bit,
                                     device=device)
        self.name = name
        self.scorers = {False: rr.scorer,
                        True: PTrueScorer(rr.model, rr.tokenizer, method=score, batch_size=batch_size, claim=True,
                                          max_length=rr.max_length)}
        self.settings = {"score": score, "load_in_4bit": load_in_4bit,
                         "calibrated": {"question": rr.scorer.calibrated, "claim": self.scorers[True].calibrated}}

    def score(self, pairs: Sequence[Pair], on_batch: Callable[[int], None]) -> list[float]:
        out = [0.0] * len(pairs)
        for claim, scorer in self.scorers.items():
            idx = [i for i, p in enumerate(pairs) if p.claim == claim]
            if idx:
                seqs = [scorer.encode_pair(pairs[i].question, pairs[i].passage) for i in idx]
                for i, s in zip(idx, scorer.score_encoded(seqs, on_batch=on_batch)):
                    out[i] = float(s)
        return out


class MiniLMJudge:
    """Cosine of all-MiniLM-L6-v2 (the ``dense`` extra)."""

    kind = "cosine"
    name = MINILM

    def __init__(self, *, batch_size: int = 64, device: str | None = None):
        from rankrag_lite.evaluation.rankers import MiniLM

        self.minilm = MiniLM(batch_size=batch_size, device=device)
        self.settings: dict = {}

    def score(self, pairs: Sequence[Pair], on_batch: Callable[[int], None]) -> list[float]:
        out = self.minilm.score_pairs([(p.question, p.passage) for p in pairs])
        on_batch(len(pairs))
        return out


def check_judges(judges: Sequence[str]) -> list[str]:
    """The judge names, checked before anything loads (at least one, no repeats)."""
    names = [str(j).strip() for j in judges]
    if not names or not all(names):
        raise RankragError("label needs at least one --judge (a model, an adapter folder, or minilm)")
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise RankragError(f"--judge {dup[0]} is given twice")
    return names


def load_judge(name: str, *, batch_size: int, score: str, load_in_4bit: bool, device: str | None):
    if name == MINILM:
        return MiniLMJudge(device=device)
    return ModelJudge(name, batch_size=batch_size, score=score, load_in_4bit=load_in_4bit, device=device)


def judge_label(names: Sequence[str]) -> str:
    return names[0] if len(names) == 1 else "fusion(" + ", ".join(names) + ")"


def score_chunk(judges: Sequence, pairs: Sequence[Pair], on_batch: Callable[[int], None]) -> list[dict]:
    """Every judge's score of each pair of one chunk: ``[{judge: score}]`` (the local executor; a
    distributed one scores the same chunks and returns the same)."""
    per = {j.name: j.score(pairs, on_batch) for j in judges}
    return [{name: per[name][i] for name in per} for i in range(len(pairs))]


def fuse_scores(pairs: Sequence[Pair], scores: Sequence[dict], kinds: dict[str, str]) -> list[float]:
    """Per question, the mean over judges of their standardised scores (P(True) as its logit)."""
    from rankrag_lite.ranking.calibration import to_logit
    from rankrag_lite.ranking.fusion import EPS, standardise

    groups: dict[str, list[int]] = {}
    for i, p in enumerate(pairs):
        groups.setdefault(" ".join(p.question.split()), []).append(i)
    out = [0.0] * len(pairs)
    for idx in groups.values():
        zs = []
        for name, kind in kinds.items():
            vals = [scores[i][name] for i in idx]
            if kind == "p_true":
                vals = to_logit(vals, eps=EPS).tolist()
            zs.append(standardise(vals))
        for row, i in enumerate(idx):
            out[i] = sum(z[row] for z in zs) / len(zs)
    return out


# -- the labelling run --------------------------------------------------------------------------------

def _partial_path(out: Path) -> Path:
    return out.with_name(f".{out.name}.partial")


def _read_partial(path: Path, header: dict) -> dict[str, dict]:
    """Scores an earlier run of the same job left in ``path`` (``{}`` if none, or another job's)."""
    if not path.exists():
        return {}
    done: dict[str, dict] = {}
    with open(path, encoding="utf-8") as f:
        first = f.readline()
        try:
            if json.loads(first).get("header") != header:
                log(f"label: {path} belongs to another input or judge; starting again")
                return {}
        except (json.JSONDecodeError, AttributeError):
            return {}
        for line in f:
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                break  # the line a kill cut short: it and anything after it are scored again
            done[rec["key"]] = rec["scores"]
    return done


def label_pairs(input: str | os.PathLike, out: str | os.PathLike, judges: Sequence[str], *,
                batch_size: int = 16, score: str = "true-false", load_in_4bit: bool = False,
                device: str | None = None, sample_negatives: int | None = None,
                sample_positives: int | None = None, seed: int = 0,
                chunk_size: int = 256, thresholds: dict[str, Sequence[float]] | None = None) -> dict:
    """Score every ranking pair of ``input`` with ``judges`` and write them to ``out`` (JSONL).

    ``sample_negatives`` / ``sample_positives``: judge only this many of the negatives / positives
    (drawn with ``seed``; default: all).
    Returns the summary: pairs, positives, negatives, the judge, and per score column the negatives
    at or above each threshold and the positives below it.
    """
    from rankrag_lite.ranking.scorer import check_method

    names = check_judges(judges)
    check_method(score)
    if chunk_size < 1 or batch_size < 1:
        raise RankragError("batch and chunk sizes must be at least 1")
    input, out = Path(input), Path(out)
    if out.resolve() == (input / "blend.jsonl" if input.is_dir() else input).resolve():
        raise RankragError(f"--out {out} is the input; the judged pairs go to a new file")
    pairs = read_pairs(input)
    total = len(pairs)
    order = list(range(total))
    if sample_negatives is not None or sample_positives is not None:
        order = sample_order(pairs, seed, sample_negatives, sample_positives)  # scored in draw order
    pairs, scoring = [pairs[i] for i in sorted(order)], [pairs[i] for i in order]
    # the partial file is a cache of pair scores: any run with this input and these judges reuses it
    header = {"input_sha256": sha256_file(input / "blend.jsonl" if input.is_dir() else input),
              "judges": names, "score": score, "load_in_4bit": load_in_4bit}
    partial = _partial_path(out)
    with output_lock(out):
        done = _read_partial(partial, header)
        todo = [p for p in scoring if p.key not in done]
        kinds = {n: ("cosine" if n == MINILM else "p_true") for n in names}
        settings: dict = {}
        if done:
            log(f"label: resuming: {len(pairs) - len(todo)} of {len(pairs)} pairs already scored ({partial})")
        if todo:
            loaded = [load_judge(n, batch_size=batch_size, score=score, load_in_4bit=load_in_4bit, device=device)
                      for n in names]
            settings = {j.name: j.settings for j in loaded}
            mode = "a" if done else "w"
            with open(partial, mode, encoding="utf-8") as f, make_progress() as bar:
                if mode == "w":
                    f.write(dumps({"header": header}) + "\n")
                task = bar.add_task(f"Judging ({judge_label(names)})", total=len(todo) * len(names),
                                    info="pair scores")
                for start in range(0, len(todo), chunk_size):
                    chunk = todo[start:start + chunk_size]
                    for p, s in zip(chunk, score_chunk(loaded, chunk, lambda k: bar.advance(task, k))):
                        done[p.key] = s
                        f.write(dumps({"key": p.key, "scores": s}) + "\n")
                    f.flush()
                    os.fsync(f.fileno())
        scores = [done[p.key] for p in pairs]
        final = ([s[names[0]] for s in scores] if len(names) == 1 else fuse_scores(pairs, scores, kinds))
        label = judge_label(names)
        with atomic_write(out) as f:
            for p, s, x in zip(pairs, scores, final):
                f.write(dumps({**p.record(), "scores": s, "score": x, "judge": label}) + "\n")
        partial.unlink(missing_ok=True)
    summary = summarise(pairs, scores, final, kinds, thresholds)
    summary.update({"pairs_in_input": total, "judge": label, "judge_settings": settings, "out": str(out)})
    return summary


def summarise(pairs: Sequence[Pair], scores: Sequence[dict], final: Sequence[float], kinds: dict[str, str],
              thresholds: dict[str, Sequence[float]] | None = None) -> dict:
    """Counts per score column: negatives at or above, positives below, each threshold."""
    th = {**SUMMARY_THRESHOLDS, **(thresholds or {})}
    columns = {n: ([s[n] for s in scores], kinds[n]) for n in kinds}
    if len(kinds) > 1:
        columns["fused"] = (list(final), "fused")
    neg = [i for i, p in enumerate(pairs) if p.label is False]
    pos = [i for i, p in enumerate(pairs) if p.label is True]
    out: dict = {"pairs": len(pairs), "positives": len(pos), "negatives": len(neg), "columns": {}}
    for name, (vals, kind) in columns.items():
        out["columns"][name] = {str(t): {"negatives_at_or_above": sum(vals[i] >= t for i in neg),
                                         "positives_below": sum(vals[i] < t for i in pos)} for t in th[kind]}
    return out


# -- the judge filter of build-blend ------------------------------------------------------------------

class JudgedLabels:
    """A ``label`` output read back for the blend: the judge's score of each pair, and the thresholds."""

    def __init__(self, path: str | os.PathLike, drop_negatives_at_or_above: float | None = None,
                 drop_positives_below: float | None = None, unjudged: str = "keep", apply_to: str = "pools"):
        self.path = Path(os.path.expanduser(str(path)))
        if not self.path.exists():
            raise RankragError(f"blend.judge.labels: file not found: {self.path}")
        self.neg_at, self.pos_below, self.unjudged = drop_negatives_at_or_above, drop_positives_below, unjudged
        #: "blend": the parts keep every row and only mark those the judge disagrees with (:meth:`admit`);
        #: :meth:`remove_rejected` takes them out of the drawn blend
        self.apply_to = apply_to
        self._rejected: set[int] = set()  # id() of the marked examples (the mix draws the same objects)
        #: (part, source) -> drawn rows removed from the blend ("blend" only)
        self.removed_from_blend: dict[tuple[str, str], int] = {}
        self.scores: dict[str, float] = {}
        judges = set()
        for rec in iter_jsonl(self.path):
            if not isinstance(rec, dict) or not isinstance(rec.get("key"), str) or \
                    not isinstance(rec.get("score"), (int, float)) or isinstance(rec.get("score"), bool):
                raise RankragError(f"{self.path}: not a `rankrag-lite label` output (each line needs 'key' and "
                                   "a numeric 'score')")
            if not math.isfinite(rec["score"]):
                raise RankragError(f"{self.path}: pair {rec['key']} has a score that is not finite")
            self.scores[rec["key"]] = float(rec["score"])
            judges.add(rec.get("judge"))
        if not self.scores:
            raise RankragError(f"{self.path}: no judged pairs")
        self.judge = ", ".join(sorted(str(j) for j in judges))
        self.sha256 = sha256_file(self.path)
        #: (part, source) -> reason -> count
        self.counts: dict[tuple[str, str], dict[str, int]] = {}

    def verdict(self, question: str, passage, label: bool) -> str | None:
        """Why this pair is dropped (``negative_judged_relevant``, ``positive_judged_irrelevant``,
        ``unjudged`` with ``unjudged: drop``), or None."""
        s = self.scores.get(pair_key(question, passage))
        if s is None:
            return "unjudged" if self.unjudged == "drop" else None
        if not label and self.neg_at is not None and s >= self.neg_at:
            return "negative_judged_relevant"
        if label and self.pos_below is not None and s < self.pos_below:
            return "positive_judged_irrelevant"
        return None

    def filter_ranking_rows(self, question: str, rows: list[tuple], *, paired: bool, part: str,
                            source: str) -> list[tuple]:
        """The ``(shown passage, label, kind)`` rows of one question's ranking part that the judge keeps.
        ``paired``: the rows are (positive, negative) pairs cut to one length, dropped together."""
        groups = [rows[i:i + 2] for i in range(0, len(rows), 2)] if paired else [[r] for r in rows]
        kept: list[tuple] = []
        for group in groups:
            verdicts = [(row, self.verdict(question, row[0], row[1])) for row in group]
            # an unjudged row goes alone: labels of one blend.jsonl hold a pair's two rows only where the
            # mix drew both, so its partner is kept as that blend had it
            for _, r in verdicts:
                if r == "unjudged":
                    self.count(part, source, r)
            verdicts = [(row, r) for row, r in verdicts if r != "unjudged"]
            if not any(r for _, r in verdicts):
                kept.extend(row for row, _ in verdicts)
                if verdicts:
                    self.count(part, source, "kept", len(verdicts))
                continue
            for _, r in verdicts:
                self.count(part, source, r or "partner_of_dropped")
        return kept

    def keeps_ra_row(self, question: str, shown: list[tuple[dict, bool]], *, part: str, source: str) -> bool:
        """Whether an RA-ranking row (its ``(passage, relevant)`` list) is kept: none of its passages dropped."""
        reasons = [self.verdict(question, p, label) for p, label in shown]
        if not any(reasons):
            self.count(part, source, "kept_rows")
            return True
        for r in reasons:
            if r:
                self.count(part, source, r)
        self.count(part, source, "dropped_rows")
        return False

    @property
    def after_mix(self) -> bool:
        """Whether the filter applies to the drawn blend (``apply_to: blend``) rather than the pools."""
        return self.apply_to == "blend"

    def admit(self, example: dict, judged_in: bool) -> bool:
        """Whether a part keeps ``example`` in its pool: one the judge keeps, yes; one it judges out, no
        (``apply_to: pools``), or yes but marked for :meth:`remove_rejected` (``apply_to: blend``)."""
        if judged_in:
            return True
        if self.after_mix:
            self._rejected.add(id(example))
        return self.after_mix

    def remove_rejected(self, blend: list[dict]) -> list[dict]:
        """The drawn ``blend`` without the marked examples, in its order; counts them per part and source."""
        kept = []
        for ex in blend:
            if id(ex) in self._rejected:
                key = (ex["part"], ex["source"])
                self.removed_from_blend[key] = self.removed_from_blend.get(key, 0) + 1
            else:
                kept.append(ex)
        return kept

    def count(self, part: str, source: str, reason: str, n: int = 1) -> None:
        c = self.counts.setdefault((part, source), {})
        c[reason] = c.get(reason, 0) + n

    def dropped(self, part: str, source: str) -> int:
        """Rows of (part, source) the filter dropped."""
        c = self.counts.get((part, source), {})
        return sum(v for k, v in c.items() if k not in ("kept", "kept_rows", "dropped_rows"))

    def manifest(self) -> dict:
        """The manifest's ``judge`` section: the file, its judge, the thresholds and what was dropped."""
        by: dict[str, dict] = {}
        for (part, source), c in sorted(self.counts.items()):
            by.setdefault(part, {})[source] = dict(sorted(c.items()))
        totals: dict[str, int] = {}
        for c in self.counts.values():
            for k, v in c.items():
                totals[k] = totals.get(k, 0) + v
        out = {"labels": str(self.path), "sha256": self.sha256, "judge": self.judge,
                "judged_pairs": len(self.scores), "drop_negatives_at_or_above": self.neg_at,
                "drop_positives_below": self.pos_below, "unjudged": self.unjudged, "apply_to": self.apply_to,
                "counts": dict(sorted(totals.items())), "by_part": by}
        if self.after_mix:
            # the counts above are the pools'; these are the drawn rows taken out of blend.jsonl
            removed: dict[str, dict] = {}
            for (part, source), n in sorted(self.removed_from_blend.items()):
                removed.setdefault(part, {})[source] = n
            out["removed_from_blend"] = {"rows": sum(self.removed_from_blend.values()), "by_part": removed}
        return out
