"""`mine_hard_negatives` on plain lists, and on the blend's fixture data (the negatives the blend uses)."""

from __future__ import annotations

import copy
import json

import pytest

from rankrag_lite.data.blend import build_blend
from rankrag_lite.data.blend.config import parse_blend
from rankrag_lite.data.blend.source import LoadedSource, exclusion_set
from rankrag_lite.data.hard_negatives import mine_hard_negatives, passage_key
from test_blend import RECIPE, D

CORPUS = [
    "Hamlet is a tragedy written by William Shakespeare around 1600.",
    {"title": "Hamlet (film)", "text": "A 1948 film of the play Hamlet, directed by Laurence Olivier."},
    {"title": "Hamlet", "text": "Hamlet, Prince of Denmark, is the play's protagonist."},
    "The play Hamlet was first performed at the Globe Theatre.",
    "Macbeth is a tragedy by William Shakespeare about a Scottish general.",
    "Christopher Marlowe wrote Doctor Faustus, a play some think inspired Hamlet.",
    "Hamlet is a village in the county of Norfolk.",
    "The Mousetrap is the play within the play in Hamlet.",
    "Mount Everest is Earth's highest mountain above sea level.",
    "",
    "Hamlet is a tragedy written by   William Shakespeare around 1600.",  # corpus[0] again
]
QUERIES = ["who wrote the play hamlet", "a tragedy play by shakespeare"]


def texts(negs: list[dict]) -> list[str]:
    return [n["text"] for n in negs]


def test_never_returns_a_positive_or_an_answer():
    out = mine_hard_negatives(QUERIES, CORPUS, positives=[[0], "Macbeth is a tragedy by William Shakespeare "
                                                             "about a Scottish general."],
                              num_negatives=None)
    assert len(out) == 2
    for negs, pos in zip(out, ([CORPUS[0]], [CORPUS[4]])):
        keys = [passage_key(n) for n in negs]
        assert negs and not {passage_key(p) for p in pos} & set(keys)
        assert len(keys) == len(set(keys))  # a repeated passage comes once
        assert all(n["text"].strip() for n in negs)
        assert [n["score"] for n in negs] == sorted((n["score"] for n in negs), reverse=True)
        for n in negs:  # corpus_id points at the passage returned
            c = CORPUS[n["corpus_id"]]
            assert passage_key(c) == passage_key(n)
    assert CORPUS[10] not in texts(out[0])  # corpus[0] up to whitespace: the positive, not a negative
    # with answers: no negative names the answer (title or text)
    plain = mine_hard_negatives(QUERIES, CORPUS, positives=[3, 8], num_negatives=None)
    with_answers = mine_hard_negatives(QUERIES, CORPUS, positives=[3, 8], answers=[["Shakespeare"], "Shakespeare"],
                                       num_negatives=None)
    assert any("Shakespeare" in n["text"] for n in plain[0])  # the filter has something to drop
    for negs, every in zip(with_answers, plain):
        assert negs == [n for n in every if "Shakespeare" not in n["title"] + n["text"]]
    # a positive given as a {"title", "text"} mapping is matched with its title
    titled = mine_hard_negatives(["hamlet film olivier"], CORPUS, positives=[[CORPUS[1]]], num_negatives=None)
    assert 1 not in {n["corpus_id"] for n in titled[0]} and titled[0]
    untitled = mine_hard_negatives(["hamlet film olivier"], CORPUS, positives=[[CORPUS[1]["text"]]],
                                   num_negatives=None)
    assert untitled[0][0]["corpus_id"] == 1  # same text, no title: another passage


def test_num_negatives_and_depth():
    every = mine_hard_negatives(QUERIES, CORPUS, positives=[[0], [4]], num_negatives=None)
    for n in (1, 2, 3):
        out = mine_hard_negatives(QUERIES, CORPUS, positives=[[0], [4]], num_negatives=n)
        assert [len(x) for x in out] == [n, n]
        assert out == [e[:n] for e in every]  # "top": the best-scored ones
    shallow = mine_hard_negatives(QUERIES, CORPUS, positives=[[0], [4]], num_negatives=None, depth=2)
    assert all(len(x) <= 2 + 1 for x in shallow) and shallow[0] == every[0][: len(shallow[0])]
    assert mine_hard_negatives([], CORPUS) == []


def test_random_sampling_is_deterministic_with_a_seed():
    every = mine_hard_negatives(QUERIES, CORPUS, positives=[[0], [4]], num_negatives=None)
    runs = {s: mine_hard_negatives(QUERIES, CORPUS, positives=[[0], [4]], num_negatives=2, sampling="random",
                                   seed=s) for s in range(6)}
    assert runs[3] == mine_hard_negatives(QUERIES, CORPUS, positives=[[0], [4]], num_negatives=2,
                                          sampling="random", seed=3)
    for out in runs.values():
        for negs, pool in zip(out, every):
            ids = [n["corpus_id"] for n in negs]
            assert len(ids) == 2 and set(ids) <= {n["corpus_id"] for n in pool}
            assert ids == [n["corpus_id"] for n in pool if n["corpus_id"] in ids]  # kept in BM25 order
    assert len({json.dumps(o) for o in runs.values()}) > 1  # the seed matters


@pytest.mark.parametrize("kwargs, error", [
    ({"queries": "who wrote hamlet"}, TypeError),
    ({"queries": ["q", 3]}, TypeError),
    ({"corpus": [1, 2]}, TypeError),
    ({"corpus": ["", "  "]}, ValueError),
    ({"positives": [[0]]}, ValueError),  # one entry for two queries
    ({"positives": [[99], []]}, ValueError),
    ({"positives": [[1.5], []]}, TypeError),
    ({"answers": [3, "x"]}, TypeError),
    ({"num_negatives": 0}, ValueError),
    ({"num_negatives": 2.0}, TypeError),
    ({"depth": 0}, ValueError),
    ({"sampling": "best"}, ValueError),
    ({"seed": "1"}, TypeError),
    ({"backend": "lucene"}, ValueError),
])
def test_misuse_is_a_type_or_value_error(kwargs, error):
    args = {"queries": QUERIES, "corpus": CORPUS, **kwargs}
    with pytest.raises(error):
        mine_hard_negatives(args.pop("queries"), args.pop("corpus"), **args)


def test_the_blend_ranking_part_uses_these_negatives(tmp_path):
    """On a fixture source, mine_hard_negatives over the source's BM25 pool gives the negatives of
    the blend's ranking part (shown cut to the paired positive's length)."""
    recipe = copy.deepcopy(RECIPE)
    recipe["blend"]["sources"] = {"nq": recipe["blend"]["sources"]["nq"]}
    recipe["blend"]["mix"] = [{"part": "ranking", "source": "nq", "weight": 1.0}]
    recipe["blend"]["size"] = None
    out = tmp_path / "blend"
    build_blend(recipe, out, data_root=D)
    cfg = parse_blend(recipe)
    src = LoadedSource("nq", cfg.sources["nq"], cfg, D, {"ranking"})
    src.exclude(exclusion_set(cfg.exclude, D))
    mined = mine_hard_negatives([q.text for q in src.queries], src.pool(),
                                positives=[[{"title": p.title, "text": p.text} for p in q.golds] for q in src.queries],
                                answers=[q.answers for q in src.queries],
                                num_negatives=cfg.ranking_negatives, depth=cfg.retrieval_depth)
    shown: dict[str, list[tuple[str, str]]] = {}
    for line in (out / "ranking.jsonl").read_text().splitlines():
        e = json.loads(line)
        if e["source"] == "nq" and e["messages"][2]["content"] == "False":
            passage = e["messages"][1]["content"].split("\n\nFor the question ")[0][len("Passage: "):]
            title, text = passage.split("\n", 1) if "\n" in passage else ("", passage)
            shown.setdefault(e["meta"]["qid"], []).append((title, text))
    assert sum(len(v) for v in shown.values()) >= 2 * len(src.queries)
    for q, negs in zip(src.queries, mined):
        rows = shown.get(q.qid, [])
        assert len(rows) == len(negs)
        for (title, text), n in zip(rows, negs):
            words = text.split()
            assert title == n["title"] and words == n["text"].split()[: len(words)]
