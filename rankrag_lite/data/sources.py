"""Source loaders: a local file (or BEIR folder) or a Hugging Face hub dataset name -> schema records.

Public API (every later stage calls these):

- :func:`load_qa` -> ``list[QAItem]`` (question, answers, optional passages with gold flags, history)
- :func:`load_ranking` -> ``list[RankingItem]`` (query, positive and negative passages)
- :func:`load_chat` -> ``list[ChatItem]`` (SFT chat ``messages``)
- :func:`load_corpus` -> ``list[dict]`` of ``{id, title, text}``
- :func:`load_questions` -> the question strings of any QA or ranking source (for ``--exclude``)

``source`` is a local path when it exists on disk (or looks like one: it has a known file extension),
otherwise a hub dataset name, read through ``datasets.load_dataset(name, config, split=split)``.
Hub records and local records go through the same record converters.

Formats (``fmt``; sniffed from the extension and the first record when not given):

==================  =============================================================================
``nq-open``         JSONL ``{question, answer[]}`` (also ``answers``; WebQuestions hub rows)
``ctxs``            NQ-oracle / DPR retriever JSONL ``{question, answers, ctxs[{title, text,
                    hasanswer, isgold}]}``; a passage is gold when ``isgold`` (else ``hasanswer``)
``squad``           SQuAD JSON ``{data[{title, paragraphs[{context, qas[...]}]}]}`` or flat hub rows
                    ``{id, title, context, question, answers{text[]}}``; the context is gold
``dpr-tsv``         ``question<TAB>python-list-of-answers`` (csv + ``ast.literal_eval``); a file
                    named ``.tsv`` whose lines are JSON is read as ``nq-open`` instead
``topics``          TREC topics ``qid<TAB>query`` (questions only, no answers)
``hotpotqa``        HotpotQA original JSON / distractor JSONL (``context`` + ``supporting_facts``,
                    list or hub column layout); also 2WikiMultihopQA in its original layout
``musique``         MuSiQue ``{paragraphs[{title, paragraph_text, is_supporting}], answer,
                    answer_aliases}``
``passages``        normalised multi-hop JSONL ``{question, answers, passages[{title, text, is_gold}]}``
                    (the 2Wiki distractor file)
``chatqa``          ChatQA training rows ``{messages, document, answers}`` (context-rich QA)
``beir``            BEIR folder: ``corpus.jsonl(.gz)``, ``queries.jsonl`` or ``queries_{split}.jsonl``,
                    qrels ``qrels/{split}.tsv`` or ``{split}.tsv``
``qpn``             ``{query, pos[], neg[]}`` JSONL (MS MARCO / FlagEmbedding style)
``msmarco``         hub ``microsoft/ms_marco`` rows ``{query, passages{is_selected[], passage_text[]}}``
``rankllm``         rank_llm retrieve results ``[{query, hits[{content, qid, docid}]}]``: queries only, or,
                    with TREC ``qrels`` (:func:`load_ranking`), ranking items: hits judged at least
                    ``min_grade`` are positives, hits judged 0 negatives, unjudged hits unused
``climate-fever``   ``{claim, evidences[{evidence, article, evidence_label}]}``: evidence labelled
                    SUPPORTS or REFUTES is relevant (positive), NOT_ENOUGH_INFO is not (negative).
                    The claim's own label (incl. DISPUTED) is not used: relevance, not truth
``chat``            ``{messages[{role, content}]}`` JSONL
``dolly``           ``{instruction, context, response}`` (databricks-dolly-15k)
``corpus``          ``{_id|id, title, text}`` JSONL, a list of ``{title, text}``, or HotpotQA's
                    ``{title: [sentences]}`` corpus JSON
==================  =============================================================================

Bad input (a missing file, a record without the fields a format needs, an unknown format) raises
:class:`~rankrag_lite.errors.RankragError` with one line naming the file and the field.
"""

from __future__ import annotations

import ast
import csv
import itertools
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from rankrag_lite.data.schemas import ChatItem, Passage, QAItem, RankingItem
from rankrag_lite.errors import RankragError
from rankrag_lite.io import iter_jsonl, open_text, read_json

QA_FORMATS = ("nq-open", "ctxs", "squad", "dpr-tsv", "topics", "hotpotqa", "musique", "passages", "chatqa",
              "beir", "rankllm", "qpn")
RANKING_FORMATS = ("qpn", "beir", "msmarco", "climate-fever", "rankllm", "ctxs", "squad", "hotpotqa",
                   "musique", "passages")
CHAT_FORMATS = ("chat", "dolly", "chatqa")
CORPUS_FORMATS = ("corpus", "beir", "ctxs", "squad", "hotpotqa", "musique", "passages", "qpn")
FORMATS = tuple(dict.fromkeys(QA_FORMATS + RANKING_FORMATS + CHAT_FORMATS + CORPUS_FORMATS))

_LOCAL_EXTS = (".json", ".jsonl", ".tsv", ".txt", ".csv", ".gz")

# Climate-FEVER labels: hub rows use integers (0 SUPPORTS, 1 REFUTES, 2 NOT_ENOUGH_INFO, 3 DISPUTED).
_CF_LABELS = {0: "SUPPORTS", 1: "REFUTES", 2: "NOT_ENOUGH_INFO", 3: "DISPUTED"}
_CF_RELEVANT = {"SUPPORTS", "REFUTES"}


# --------------------------------------------------------------------------------------------------
# reading raw records (local files or hub)
# --------------------------------------------------------------------------------------------------


def is_local(source: str) -> bool:
    """A source is a local path if it exists or looks like a file name (known extension, ./, /)."""
    s = str(source)
    if os.path.exists(s):
        return True
    return s.startswith((".", "/", "~")) or s.lower().endswith(_LOCAL_EXTS) or os.sep + os.sep in s


#: environment variable naming a folder that mirrors hub dataset repositories (``{folder}/{owner}/{name}``,
#: with the repository's own files and README configs): a hub name found there is loaded from it, through
#: the same ``datasets.load_dataset`` call (offline mirrors; the tests' hub layouts).
HUB_MIRROR_ENV = "RANKRAG_LITE_HUB_MIRROR"


def hub_location(name: str) -> str:
    """What ``datasets.load_dataset`` gets for a hub name: the name, or its folder in the mirror."""
    mirror = os.environ.get(HUB_MIRROR_ENV)
    if mirror:
        local = Path(os.path.expanduser(mirror)) / name
        if local.is_dir():
            return str(local)
    return name


def _hub_label(name: str, config: str | None, split: str | None, data_files) -> str:
    extra = f" ({config})" if config else ""
    if data_files:
        extra += f" files {data_files if isinstance(data_files, str) else list(data_files)!r}"
    return f"hub dataset {name!r}{extra} split {split or 'train'!r}"


def hub_rows(name: str, split: str | None = None, config: str | None = None, data_files=None,
             streaming: bool = False) -> Iterable[dict]:
    """Rows of a hub dataset as plain dicts: ``datasets.load_dataset(name, config, split=...,
    data_files=..., streaming=...)``. ``streaming`` yields rows lazily (the first rows of a large split
    without downloading all of it: MS MARCO train is 1.7 GB); otherwise the split is loaded whole."""
    try:
        import datasets
    except ImportError as e:  # pragma: no cover
        raise RankragError("loading a hub dataset needs the 'datasets' package") from e
    label = _hub_label(name, config, split, data_files)

    def fail(e: Exception):
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        return RankragError(f"cannot load {label}: {msg}")

    kwargs = {"split": split or "train", "streaming": streaming}
    if data_files:
        kwargs["data_files"] = data_files
    try:
        ds = datasets.load_dataset(hub_location(name), config, **kwargs)
    except Exception as e:  # noqa: BLE001  (network, unknown name, ...: one line, the cause chained)
        raise fail(e) from e
    if not streaming:
        return [dict(r) for r in ds]

    def lazy():
        it = iter(ds)
        while True:
            try:
                row = next(it)
            except StopIteration:
                return
            except Exception as e:  # noqa: BLE001  (a broken file or connection mid-stream)
                raise fail(e) from e
            yield dict(row)

    return lazy()


def hub_records(name: str, split: str | None = None, config: str | None = None, data_files=None) -> list[dict]:
    """All rows of a hub dataset split as plain dicts (:func:`hub_rows` without streaming)."""
    return list(hub_rows(name, split=split, config=config, data_files=data_files))


def _first_line(path: Path) -> str:
    with open_text(path) as f:
        for line in f:
            if line.strip():
                return line.strip()
    return ""


def _read_tsv_rows(path: Path, quoted: bool = False) -> list[list[str]]:
    """Tab-separated rows; ``quoted``: csv quoting as in DPR's own reader (TriviaQA has quoted lines)."""
    with open_text(path) as f:
        quoting = csv.QUOTE_MINIMAL if quoted else csv.QUOTE_NONE
        return [row for row in csv.reader(f, delimiter="\t", quoting=quoting) if row]


def _local_records(path: Path) -> tuple[str | None, list[dict] | dict]:
    """(format hint or None, raw records) of a local file."""
    if not path.exists():
        raise RankragError(f"file not found: {path}")
    name = path.name.lower()
    base = name[:-3] if name.endswith(".gz") else name
    if base.endswith((".tsv", ".txt", ".csv")):
        first = _first_line(path)
        if first.startswith("{"):
            return None, list(iter_jsonl(path))
        cols = first.split("\t")
        if len(cols) >= 2 and cols[1].lstrip().lstrip('"').startswith("["):
            return "dpr-tsv", [{"_row": r} for r in _read_tsv_rows(path, quoted=True)]
        rows = _read_tsv_rows(path)
        return "topics", [{"_row": r} for r in rows]
    if base.endswith(".jsonl"):
        return None, list(iter_jsonl(path))
    if base.endswith(".json"):
        data = read_json(path)
        if isinstance(data, dict) and "data" in data and isinstance(data["data"], list):
            return "squad", data
        if isinstance(data, dict) and data and all(isinstance(v, list) for v in list(data.values())[:5]):
            return "corpus", [{"id": k, "title": k, "text": "".join(v)} for k, v in data.items()]
        if isinstance(data, list):
            return None, data
        raise RankragError(f"{path}: unrecognised JSON layout (expected a list of records or SQuAD 'data')")
    # unknown extension: try JSONL then JSON
    try:
        return None, list(iter_jsonl(path))
    except RankragError:
        data = read_json(path)
        return None, data if isinstance(data, list) else [data]


def sniff_record(rec: dict) -> str | None:
    """Guess the format of one record from its keys."""
    if not isinstance(rec, dict):
        return None
    k = set(rec)
    if "messages" in k:
        # ChatQA rows: context-rich QA {messages, document, answers}; its 'sft' rows {messages, answers}
        # end with a user turn whose reply is answers[0]
        return "chatqa" if ("document" in k or "answers" in k) else "chat"
    if "ctxs" in k:
        return "ctxs"
    if "paragraphs" in k and "question" in k:
        return "musique"
    if "context" in k and "supporting_facts" in k:
        return "hotpotqa"
    if "claim" in k and "evidences" in k:
        return "climate-fever"
    if "query" in k and "pos" in k:
        return "qpn"
    if "query" in k and "hits" in k:
        return "rankllm"
    if "query" in k and isinstance(rec.get("passages"), dict):
        return "msmarco"
    if "passages" in k and "question" in k:
        return "passages"
    if "context" in k and "question" in k and "answers" in k:
        return "squad"
    if "question" in k and ("answer" in k or "answers" in k):
        return "nq-open"
    if "instruction" in k and "response" in k:
        return "dolly"
    if "text" in k and ("_id" in k or "id" in k or "title" in k):
        return "corpus"
    return None


class _Raw:
    """Raw records of one source, with its format and a name for error messages."""

    def __init__(self, where: str, fmt: str, records, folder: Path | None = None, split: str | None = None,
                 config: str | None = None, hub: bool = False):
        self.where, self.fmt, self.records, self.folder = where, fmt, records, folder
        self.split, self.config, self.hub = split, config, hub


def _open(source: str, fmt: str | None, split: str | None, config: str | None = None, data_files=None,
          stream: bool = False) -> _Raw:
    """Raw records of a source. For a hub source, ``data_files`` goes to ``load_dataset`` and ``stream``
    reads rows lazily (a loader with a limit stops reading once it has enough)."""
    if fmt is not None and fmt not in FORMATS:
        raise RankragError(f"unknown format {fmt!r} for {source}; choose one of {list(FORMATS)}")
    source = str(source)
    if is_local(source):
        path = Path(os.path.expanduser(source))
        if not path.exists():
            raise RankragError(f"file not found: {path}")
        if path.is_dir():
            if fmt not in (None, "beir"):
                raise RankragError(f"{path}: a folder is read as a BEIR dataset, not {fmt!r}")
            return _Raw(str(path), "beir", None, folder=path, split=split)
        if data_files:
            raise RankragError(f"{path}: data_files is for hub datasets; give the file itself as the path")
        hint, records = _local_records(path)
        if fmt is None:
            fmt = hint
        if fmt is None:
            fmt = sniff_record(records[0]) if records else None
            if fmt is None:
                if not records:
                    raise RankragError(f"{path}: no records")
                raise RankragError(f"{path}: cannot tell the format from the fields {sorted(records[0])[:8]}; "
                                   f"pass a format (one of {list(FORMATS)})")
        return _Raw(str(path), fmt, records, split=split)
    # hub
    if fmt == "beir":
        return _Raw(source, "beir", None, split=split, config=config, hub=True)
    records = hub_rows(source, split=split, config=config, data_files=data_files, streaming=stream)
    if fmt is None:
        it = iter(records)
        first = next(it, None)
        fmt = sniff_record(first) if first is not None else None
        if fmt is None:
            if first is None:
                raise RankragError(f"{_hub_label(source, config, split, data_files)}: no rows")
            raise RankragError(f"{_hub_label(source, config, split, data_files)}: cannot tell the format of "
                               f"its rows (fields {sorted(first)[:8]}); pass a format")
        records = itertools.chain([first], it)
    return _Raw(source, fmt, records, split=split, config=config, hub=True)


def _limit(items: list, limit: int | None) -> list:
    if limit is not None and limit < 0:
        raise RankragError(f"limit must be >= 0, got {limit}")
    return items if limit is None else items[:limit]


def _need(rec: dict, field: str, where: str, i: int):
    if not isinstance(rec, dict) or field not in rec or rec[field] is None:
        raise RankragError(f"{where}: record {i + 1} has no '{field}' field")
    return rec[field]


def _str_list(value) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict) and "text" in value:  # SQuAD hub: {"text": [...], "answer_start": [...]}
        return _str_list(value["text"])
    out = []
    for v in value:
        if isinstance(v, dict):
            v = v.get("text")
        if isinstance(v, (list, tuple)):  # ChatQA narrativeqa: answers [["a1", "a2"]]
            out.extend(_str_list(v))
        elif v is not None and str(v).strip():
            out.append(str(v))
    return list(dict.fromkeys(out))


def _question(rec: dict, where: str, i: int) -> str:
    q = _need(rec, "question", where, i)
    if not isinstance(q, str) or not q.strip():
        raise RankragError(f"{where}: record {i + 1} has an empty 'question'")
    return q.strip()


# --------------------------------------------------------------------------------------------------
# BEIR folders
# --------------------------------------------------------------------------------------------------


def _beir_file(folder: Path, stems: Iterable[str]) -> Path | None:
    for stem in stems:
        for ext in ("", ".gz"):
            p = folder / f"{stem}{ext}"
            if p.exists():
                return p
    return None


def _beir_corpus(raw: _Raw) -> list[dict]:
    if raw.hub:
        rows = hub_records(raw.where, split="corpus", config="corpus")
        where = f"{raw.where} (corpus)"
    else:
        path = _beir_file(raw.folder, ["corpus.jsonl"])
        if path is None:
            raise RankragError(f"{raw.folder}: BEIR folder without corpus.jsonl(.gz)")
        rows, where = list(iter_jsonl(path)), str(path)
    return [_corpus_doc(r, where, i) for i, r in enumerate(rows)]


def _beir_queries_qrels(raw: _Raw) -> tuple[dict[str, str], dict[str, dict[str, int]]]:
    split = raw.split or "test"
    if raw.hub:
        qrows = hub_records(raw.where, split="queries", config="queries")
        qwhere = f"{raw.where} (queries)"
        qrel_rows = hub_records(f"{raw.where}-qrels", split=split)
        rel_where = f"{raw.where}-qrels ({split})"
        triples = []
        for i, r in enumerate(qrel_rows):
            triples.append((str(_need(r, "query-id", rel_where, i)), str(_need(r, "corpus-id", rel_where, i)),
                            int(r.get("score", 1))))
    else:
        qpath = _beir_file(raw.folder, [f"queries_{split}.jsonl", f"queries-{split}.jsonl", "queries.jsonl"])
        if qpath is None:
            raise RankragError(f"{raw.folder}: BEIR folder without queries.jsonl or queries_{split}.jsonl")
        qrows, qwhere = list(iter_jsonl(qpath)), str(qpath)
        rpath = _beir_file(raw.folder, [f"qrels/{split}.tsv", f"{split}.tsv", f"qrels_{split}.tsv"])
        if rpath is None:
            raise RankragError(f"{raw.folder}: BEIR folder without qrels for split {split!r} "
                               f"(qrels/{split}.tsv or {split}.tsv)")
        rel_where = str(rpath)
        triples = []
        for i, row in enumerate(_read_tsv_rows(rpath)):
            if i == 0 and row[0].strip().lower() in ("query-id", "query_id", "qid"):
                continue
            if len(row) < 2:
                raise RankragError(f"{rpath}: line {i + 1} needs query-id<TAB>corpus-id[<TAB>score]")
            score = int(row[2]) if len(row) > 2 and row[2].strip() else 1
            triples.append((row[0].strip(), row[1].strip(), score))
    queries: dict[str, str] = {}
    for i, r in enumerate(qrows):
        qid = r.get("_id", r.get("id"))
        if qid is None:
            raise RankragError(f"{qwhere}: record {i + 1} has no '_id' field")
        queries[str(qid)] = str(_need(r, "text", qwhere, i))
    qrels: dict[str, dict[str, int]] = {}
    for qid, did, score in triples:
        qrels.setdefault(qid, {})[did] = score
    return queries, qrels


# --------------------------------------------------------------------------------------------------
# record converters
# --------------------------------------------------------------------------------------------------


def _passage(d: dict, where: str, i: int, gold=None, pid: str = "") -> Passage:
    text = d.get("text", d.get("paragraph_text", d.get("content")))
    if text is None:
        raise RankragError(f"{where}: record {i + 1} has a passage without 'text'")
    return Passage(text=str(text), title=str(d.get("title") or ""), pid=str(d.get("id", d.get("pid", pid)) or pid),
                   is_gold=gold)


def _qa_records(raw: _Raw) -> Iterator[QAItem]:
    fmt, where = raw.fmt, raw.where
    recs = raw.records
    if fmt == "squad" and isinstance(recs, dict):  # original SQuAD JSON
        n = 0
        for art in recs["data"]:
            title = art.get("title", "")
            for j, para in enumerate(art.get("paragraphs", [])):
                ctx = _need(para, "context", where, n)
                for qa in _need(para, "qas", where, n):
                    q = _question(qa, where, n)
                    answers = _str_list(qa.get("answers"))
                    if not answers:
                        raise RankragError(f"{where}: question {qa.get('id', n)} has no 'answers'")
                    pid = f"{title}#{j}"
                    yield QAItem(qid=str(qa.get("id", n)), question=q, answers=answers,
                                 passages=[Passage(text=ctx, title=title, pid=pid, is_gold=True)])
                    n += 1
        return
    if fmt == "beir":
        queries, qrels = _beir_queries_qrels(raw)
        for qid, q in queries.items():
            if qid in qrels:
                yield QAItem(qid=qid, question=q, answers=[])
        return
    for i, rec in enumerate(recs):
        if fmt in ("dpr-tsv", "topics"):
            row = rec["_row"]
            if fmt == "dpr-tsv":
                if len(row) < 2:
                    raise RankragError(f"{where}: line {i + 1} needs question<TAB>answers")
                try:
                    answers = ast.literal_eval(row[1])
                except (ValueError, SyntaxError):
                    raise RankragError(f"{where}: line {i + 1}: answers are not a python list") from None
                yield QAItem(qid=str(i), question=row[0].strip(), answers=_str_list(answers))
            else:
                if len(row) < 2:
                    raise RankragError(f"{where}: line {i + 1} needs qid<TAB>query")
                yield QAItem(qid=row[0].strip(), question=row[1].strip(), answers=[])
            continue
        if not isinstance(rec, dict):
            raise RankragError(f"{where}: record {i + 1} is not an object")
        qid = str(rec.get("id", rec.get("_id", rec.get("qid", i))))
        if fmt == "nq-open":
            q = _question(rec, where, i)
            if "answer" not in rec and "answers" not in rec:
                raise RankragError(f"{where}: record {i + 1} has no 'answer' field")
            answers = _str_list(rec.get("answer", rec.get("answers")))
            yield QAItem(qid=qid, question=q, answers=answers)
        elif fmt == "ctxs":
            q = _question(rec, where, i)
            answers = _str_list(_need(rec, "answers", where, i) if "answer" not in rec else rec["answer"])
            ctxs = _need(rec, "ctxs", where, i)
            passages = []
            for j, c in enumerate(ctxs):
                gold = c.get("isgold", c.get("is_gold"))
                if gold is None:
                    gold = c.get("hasanswer", c.get("has_answer"))
                passages.append(_passage(c, where, i, gold=bool(gold) if gold is not None else None,
                                         pid=f"{qid}-{j}"))
            yield QAItem(qid=qid, question=q, answers=answers, passages=passages)
        elif fmt == "squad":  # flat hub rows
            q = _question(rec, where, i)
            ctx = _need(rec, "context", where, i)
            answers = _str_list(_need(rec, "answers", where, i))
            title = str(rec.get("title") or "")
            yield QAItem(qid=qid, question=q, answers=answers,
                         passages=[Passage(text=ctx, title=title, pid=f"ctx-{qid}", is_gold=True)])
        elif fmt == "hotpotqa":
            yield _hotpot(rec, where, i, qid)
        elif fmt == "musique":
            q = _question(rec, where, i)
            answers = _str_list([_need(rec, "answer", where, i)] + list(rec.get("answer_aliases") or []))
            passages = []
            for j, p in enumerate(_need(rec, "paragraphs", where, i)):
                passages.append(_passage(p, where, i, gold=bool(p.get("is_supporting")),
                                         pid=f"{qid}-{p.get('idx', j)}"))
            yield QAItem(qid=qid, question=q, answers=answers, passages=passages)
        elif fmt == "passages":
            q = _question(rec, where, i)
            answers = _str_list(rec.get("answers", rec.get("answer")))
            if not answers and "answers" not in rec and "answer" not in rec:
                raise RankragError(f"{where}: record {i + 1} has no 'answers' field")
            passages = [_passage(p, where, i, gold=p.get("is_gold"), pid=f"{qid}-{j}")
                        for j, p in enumerate(_need(rec, "passages", where, i))]
            yield QAItem(qid=qid, question=q, answers=answers, passages=passages)
        elif fmt == "chatqa":
            msgs = list(_need(rec, "messages", where, i))
            answers = _str_list(rec.get("answers"))
            if msgs and msgs[-1].get("role") == "assistant":
                answers = answers or [msgs[-1]["content"]]
                msgs = msgs[:-1]
            if not msgs or msgs[-1].get("role") != "user":
                raise RankragError(f"{where}: record {i + 1}: 'messages' must end with a user turn")
            doc = str(_need(rec, "document", where, i))
            yield QAItem(qid=qid, question=msgs[-1]["content"], answers=answers,
                         passages=[Passage(text=doc, pid=f"doc-{qid}", is_gold=True)] if doc.strip() else [],
                         history=[{"role": m["role"], "content": m["content"]} for m in msgs[:-1]])
        elif fmt == "rankllm":
            yield QAItem(qid=qid, question=str(_need(rec, "query", where, i)), answers=[])
        elif fmt == "qpn":
            yield QAItem(qid=qid, question=str(_need(rec, "query", where, i)), answers=[])
        else:
            raise RankragError(f"{where}: format {fmt!r} holds no QA items")


def _hotpot(rec: dict, where: str, i: int, qid: str) -> QAItem:
    q = _question(rec, where, i)
    answers = _str_list(_need(rec, "answer", where, i))
    ctx = _need(rec, "context", where, i)
    sf = _need(rec, "supporting_facts", where, i)
    if isinstance(ctx, dict):  # hub columns: {title: [...], sentences: [[...]]}
        ctx = list(zip(ctx.get("title", []), ctx.get("sentences", [])))
    if isinstance(sf, dict):
        sf = list(zip(sf.get("title", []), sf.get("sent_id", [])))
    gold_titles = {t for t, *_ in sf}
    passages = []
    for j, pair in enumerate(ctx):
        title, sents = pair[0], pair[1]
        text = "".join(sents) if isinstance(sents, list) else str(sents)
        passages.append(Passage(text=text.strip(), title=str(title), pid=str(title), is_gold=title in gold_titles))
    return QAItem(qid=qid, question=q, answers=answers, passages=passages)


def _corpus_doc(rec: dict, where: str, i: int) -> dict:
    if not isinstance(rec, dict):
        raise RankragError(f"{where}: record {i + 1} is not an object")
    text = rec.get("text", rec.get("contents", rec.get("paragraph_text")))
    if text is None:
        raise RankragError(f"{where}: record {i + 1} has no 'text' field")
    did = rec.get("_id", rec.get("id", rec.get("docid")))
    return {"id": str(did if did is not None else i), "title": str(rec.get("title") or ""), "text": str(text)}


# --------------------------------------------------------------------------------------------------
# public loaders
# --------------------------------------------------------------------------------------------------


def load_qa(source: str, fmt: str | None = None, split: str | None = None, limit: int | None = None,
            config: str | None = None, data_files=None) -> list[QAItem]:
    """Questions with answers (and passages with gold flags where the format has them).

    ``data_files``: files inside a hub dataset repository (``load_dataset(..., data_files=...)``).
    With a ``limit`` a hub source is streamed and read only until ``limit`` items are found."""
    raw = _open(source, fmt, split, config, data_files, stream=limit is not None)
    if raw.fmt not in QA_FORMATS:
        raise RankragError(f"{raw.where}: format {raw.fmt!r} holds no QA items (QA formats: {list(QA_FORMATS)})")
    out = []
    for item in _qa_records(raw):
        item.source = item.source or Path(raw.where).name
        out.append(item)
        if limit is not None and len(out) >= limit:
            break
    return _limit(out, limit)


def load_ranking(source: str, fmt: str | None = None, split: str | None = None, limit: int | None = None,
                 config: str | None = None, qrels: str | None = None, min_grade: int = 1,
                 data_files=None) -> list[RankingItem]:
    """Queries with positive and negative passages.

    QA formats with gold flags give gold passages as positives and the record's other passages as
    negatives (for the blend's BM25 hard negatives, see :mod:`rankrag_lite.data.blend`). A retrieval
    run (``rankllm``) needs ``qrels`` (a TREC qrels file): its hits judged ``>= min_grade`` are
    positives, its hits judged 0 negatives (real hard negatives), unjudged hits are not used.
    MS MARCO rows without a selected passage are skipped (they do not count toward ``limit``); with a
    ``limit`` a hub source is streamed and read only until ``limit`` items are found.
    """
    raw = _open(source, fmt, split, config, data_files, stream=limit is not None)
    where, name = raw.where, Path(raw.where).name
    if raw.fmt not in RANKING_FORMATS:
        raise RankragError(f"{where}: format {raw.fmt!r} holds no ranking items "
                           f"(ranking formats: {list(RANKING_FORMATS)})")
    if (raw.fmt == "rankllm") != (qrels is not None):
        raise RankragError(f"{where}: qrels go with a retrieval run (format 'rankllm'), and a run needs them"
                           if raw.fmt == "rankllm" else f"{where}: qrels are only read for a retrieval run "
                           f"(format 'rankllm'), not {raw.fmt!r}")
    out: list[RankingItem] = []
    if raw.fmt == "rankllm":
        return _limit(_judged_run(raw, qrels, min_grade, name), limit)
    if raw.fmt == "beir":
        docs = {d["id"]: d for d in _beir_corpus(raw)}
        if not docs:
            raise RankragError(f"{where}: empty corpus")
        queries, qrels = _beir_queries_qrels(raw)
        for qid, q in queries.items():
            rels = qrels.get(qid)
            if not rels:
                continue
            pos = [Passage(text=docs[d]["text"], title=docs[d]["title"], pid=d, is_gold=True)
                   for d, s in rels.items() if s > 0 and d in docs]
            neg = [Passage(text=docs[d]["text"], title=docs[d]["title"], pid=d, is_gold=False)
                   for d, s in rels.items() if s <= 0 and d in docs]
            if pos:
                out.append(RankingItem(qid=qid, query=q, positives=pos, negatives=neg, source=name))
        return _limit(out, limit)
    if raw.fmt in ("ctxs", "squad", "hotpotqa", "musique", "passages"):
        for item in _qa_records(raw):
            pos = [p for p in item.passages if p.is_gold]
            if not pos:
                continue
            neg = [p for p in item.passages if not p.is_gold]
            out.append(RankingItem(qid=item.qid, query=item.question, positives=pos, negatives=neg, source=name))
            if limit is not None and len(out) >= limit:
                break
        return _limit(out, limit)
    for i, rec in enumerate(raw.records):
        if not isinstance(rec, dict):
            raise RankragError(f"{where}: record {i + 1} is not an object")
        qid = str(rec.get("id", rec.get("qid", rec.get("query_id", rec.get("claim_id", i)))))
        if raw.fmt == "qpn":
            q = str(_need(rec, "query", where, i))
            pos = [Passage(text=t, pid=f"{qid}-pos{j}", is_gold=True)
                   for j, t in enumerate(_str_list(_need(rec, "pos", where, i)))]
            neg = [Passage(text=t, pid=f"{qid}-neg{j}", is_gold=False)
                   for j, t in enumerate(_str_list(rec.get("neg")))]
        elif raw.fmt == "msmarco":
            q = str(_need(rec, "query", where, i))
            ps = _need(rec, "passages", where, i)
            texts, sel = ps.get("passage_text") or [], ps.get("is_selected") or []
            pos = [Passage(text=t, pid=f"{qid}-{j}", is_gold=True) for j, (t, s) in enumerate(zip(texts, sel)) if s]
            neg = [Passage(text=t, pid=f"{qid}-{j}", is_gold=False)
                   for j, (t, s) in enumerate(zip(texts, sel)) if not s]
        elif raw.fmt == "climate-fever":
            q = str(_need(rec, "claim", where, i))
            pos, neg = [], []
            for j, ev in enumerate(_need(rec, "evidences", where, i)):
                label = ev.get("evidence_label")
                label = _CF_LABELS.get(label, label) if isinstance(label, int) else label
                if label is None or "evidence" not in ev:
                    raise RankragError(f"{where}: record {i + 1} has evidence without 'evidence'/'evidence_label'")
                p = Passage(text=str(ev["evidence"]), title=str(ev.get("article") or ""),
                            pid=str(ev.get("evidence_id") or f"{qid}-{j}"), is_gold=label in _CF_RELEVANT)
                (pos if p.is_gold else neg).append(p)
        else:  # pragma: no cover
            raise RankragError(f"{where}: format {raw.fmt!r} holds no ranking items")
        if pos or (neg and raw.fmt != "msmarco"):  # an MS MARCO query without a selected passage: unusable
            out.append(RankingItem(qid=qid, query=q, positives=pos, negatives=neg, source=name))
        if limit is not None and len(out) >= limit:
            break
    return _limit(out, limit)


def _judged_run(raw: _Raw, qrels_path: str, min_grade: int, name: str) -> list[RankingItem]:
    """Ranking items of a rank_llm run judged by TREC qrels."""
    from rankrag_lite.ranking.candidates import read_qrels

    if min_grade < 1:
        raise RankragError(f"min_grade must be >= 1, got {min_grade}")
    qrels = read_qrels(qrels_path)
    out: list[RankingItem] = []
    judged_queries = 0
    for i, rec in enumerate(raw.records, start=1):
        if not isinstance(rec, dict):
            raise RankragError(f"{raw.where}: record {i} is not an object")
        query = str(_need(rec, "query", raw.where, i))
        hits = _need(rec, "hits", raw.where, i)
        qid = str(hits[0].get("qid", i)) if hits and isinstance(hits[0], dict) else str(i)
        grades = qrels.get(qid)
        if not grades:
            continue
        judged_queries += 1
        pos, neg = [], []
        for h in hits:
            pid = str(h.get("docid", ""))
            text = h.get("content", h.get("text"))
            if pid not in grades or not isinstance(text, str) or not text.strip():
                continue
            g = grades[pid]
            p = Passage(text=text, title=str(h.get("title") or ""), pid=pid, is_gold=g >= min_grade)
            if g >= min_grade:
                pos.append(p)
            elif g <= 0:
                neg.append(p)
        if pos:
            out.append(RankingItem(qid=qid, query=query, positives=pos, negatives=neg, source=name))
    if not judged_queries:
        raise RankragError(f"{raw.where}: no query of the run is judged in {qrels_path}")
    return out


def load_chat(source: str, fmt: str | None = None, split: str | None = None, limit: int | None = None,
              config: str | None = None, data_files=None) -> list[ChatItem]:
    """SFT conversations as chat ``messages`` (roles system / user / assistant).

    ChatQA rows (``chatqa``: ``{messages, answers[, document]}``, e.g. the ``sft`` config) whose messages
    end with a user turn get ``answers[0]`` as the final assistant turn."""
    raw = _open(source, fmt, split, config, data_files, stream=limit is not None)
    where = raw.where
    if raw.fmt not in CHAT_FORMATS:
        raise RankragError(f"{where}: format {raw.fmt!r} holds no chat items (chat formats: {list(CHAT_FORMATS)})")
    out: list[ChatItem] = []
    for i, rec in enumerate(raw.records):
        if raw.fmt == "dolly":
            inst = str(_need(rec, "instruction", where, i))
            ctx = str(rec.get("context") or "").strip()
            user = f"{ctx}\n\n{inst}" if ctx else inst
            msgs = [{"role": "user", "content": user},
                    {"role": "assistant", "content": str(_need(rec, "response", where, i))}]
            src = str(rec.get("category") or Path(where).name)
        else:
            raw_msgs = _need(rec, "messages", where, i)
            msgs = []
            for m in raw_msgs:
                if not isinstance(m, dict) or "role" not in m or "content" not in m:
                    raise RankragError(f"{where}: record {i + 1} has a message without 'role'/'content'")
                if m["role"] not in ("system", "user", "assistant"):
                    raise RankragError(f"{where}: record {i + 1} has a message with role {m['role']!r}")
                msgs.append({"role": m["role"], "content": str(m["content"])})
            if raw.fmt == "chatqa":
                doc = str(rec.get("document") or "").strip()
                if msgs and msgs[-1]["role"] == "user":
                    answers = _str_list(rec.get("answers"))
                    if not answers:
                        raise RankragError(f"{where}: record {i}: 'messages' end with a user turn and "
                                           "'answers' is empty (no reply to train on)")
                    msgs.append({"role": "assistant", "content": answers[0]})
                if doc:
                    first = next(k for k, m in enumerate(msgs) if m["role"] == "user")
                    msgs[first] = {"role": "user", "content": f"{doc}\n\n{msgs[first]['content']}"}
            src = str(rec.get("source") or Path(where).name)
        if not any(m["role"] == "assistant" for m in msgs):
            raise RankragError(f"{where}: record {i + 1} has no assistant turn")
        out.append(ChatItem(messages=msgs, source=src))
        if limit is not None and len(out) >= limit:
            break
    return _limit(out, limit)


def load_corpus(source: str, fmt: str | None = None, limit: int | None = None,
                config: str | None = None, split: str | None = None, data_files=None) -> list[dict]:
    """Passages ``{id, title, text}``: a corpus file or BEIR folder, or the passages of a QA/ranking file
    (deduplicated by title and text). With a ``limit`` a hub source is streamed and read only until
    ``limit`` passages are found."""
    raw = _open(source, fmt, split, config, data_files, stream=limit is not None)
    where = raw.where
    if raw.fmt not in CORPUS_FORMATS:
        raise RankragError(f"{where}: format {raw.fmt!r} holds no passages (corpus formats: {list(CORPUS_FORMATS)})")
    if raw.fmt == "beir":
        docs = _beir_corpus(raw)
    elif raw.fmt == "corpus":
        docs = [_corpus_doc(r, where, i) for i, r in enumerate(itertools.islice(raw.records, limit))]
    else:
        docs = []
        seen: set[tuple[str, str]] = set()
        items = (load_ranking(source, raw.fmt, split, config=config, data_files=data_files) if raw.fmt == "qpn"
                 else _qa_records(raw))
        for item in items:
            ps = item.positives + item.negatives if isinstance(item, RankingItem) else item.passages
            for p in ps:
                key = (p.title, p.text)
                if key in seen:
                    continue
                seen.add(key)
                docs.append({"id": p.pid or str(len(docs)), "title": p.title, "text": p.text})
            if limit is not None and len(docs) >= limit:
                break
    if not docs:
        raise RankragError(f"{where}: empty corpus")
    return _limit(docs, limit)


def load_questions(source: str, fmt: str | None = None, split: str | None = None,
                   config: str | None = None, data_files=None) -> list[str]:
    """The question (query, claim) strings of any QA or ranking source: what ``--exclude`` matches on."""
    raw = _open(source, fmt, split, config, data_files)
    if raw.fmt in QA_FORMATS:
        return [item.question for item in load_qa(source, raw.fmt, split, config=config, data_files=data_files)]
    if raw.fmt in RANKING_FORMATS:
        return [item.query for item in load_ranking(source, raw.fmt, split, config=config,
                                                    data_files=data_files)]
    raise RankragError(f"{raw.where}: format {raw.fmt!r} holds no questions")


__all__ = [
    "FORMATS", "load_qa", "load_ranking", "load_chat", "load_corpus", "load_questions", "hub_records", "hub_rows",
    "hub_location", "HUB_MIRROR_ENV",
    "sniff_record", "is_local",
]
