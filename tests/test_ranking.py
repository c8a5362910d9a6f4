"""P("True") scorer on the real tiny model: token ids, batch invariance, sensible order."""

from __future__ import annotations

import random

import pytest

from inference_helpers import char_level_model, short, twowiki
from rankrag_lite import prompts
from rankrag_lite.errors import RankragError
from rankrag_lite.ranking import PTrueScorer, answer_token_ids, naive_score
from rankrag_lite.modeling.chat import prompt_text


def test_token_ids_follow_the_chat_template(tiny_model):
    _, tok = tiny_model
    ids = answer_token_ids(tok)
    # SmolLM2's template opens the assistant turn with "assistant\n": the answer has no leading space
    assert prompt_text(tok, prompts.ranking_prompt("q", "p")).endswith("<|im_start|>assistant\n")
    assert ids.lead == ""
    assert ids.true_id == tok("True", add_special_tokens=False)["input_ids"][0]
    assert ids.false_id == tok("False", add_special_tokens=False)["input_ids"][0]
    assert tok.decode([ids.true_id]) == "True" and tok.decode([ids.false_id]) == "False"


def test_scoring_sees_exactly_the_tokens_training_saw(tiny_model):
    """The scorer's prompt is the training example minus its target, token for token, and the
    target's first token is the scored True/False id: no prompt/score mismatch."""
    from rankrag_lite.modeling.chat import IGNORE, tokenize_chat

    model, tok = tiny_model
    scorer = PTrueScorer(model, tok)
    ids = answer_token_ids(tok)
    for q, p, label in [("who wrote hamlet?", {"title": "Hamlet", "text": "A tragedy by Shakespeare."}, True),
                        ("capital of peru", "Lima is the capital and largest city of Peru.", False)]:
        row = tokenize_chat(tok, prompts.context_ranking(q, p, label=label))
        first = next(i for i, lab in enumerate(row["labels"]) if lab != IGNORE)
        assert row["input_ids"][:first] == scorer.encode_pair(q, p)
        assert row["labels"][first] == (ids.true_id if label else ids.false_id)


def test_token_ids_plain_chatqa_format_take_the_space(tiny_model_path):
    from rankrag_lite.modeling.loading import load_tokenizer

    tok = load_tokenizer(tiny_model_path)
    tok.chat_template = None  # a base model: prompts.render_chatqa, "... Assistant:" then " True"
    ids = answer_token_ids(tok)
    assert ids.lead == " "
    assert ids.true_id == tok(" True", add_special_tokens=False)["input_ids"][0]
    assert ids.false_id == tok(" False", add_special_tokens=False)["input_ids"][0]


def test_multi_token_true_is_a_clear_error(tmp_path):
    from transformers import AutoTokenizer

    folder = char_level_model(tmp_path / "charlm")
    tok = AutoTokenizer.from_pretrained(folder)
    with pytest.raises(RankragError, match="single-token 'True' and 'False'"):
        answer_token_ids(tok)


def _pairs():
    recs = twowiki(2)
    return [(r["question"], {"title": p["title"], "text": short(p["text"], 100)}) for r in recs
            for p in r["passages"][:8]]


def test_batch_size_and_order_do_not_change_scores(tiny_model):
    model, tok = tiny_model
    pairs = _pairs()  # 16 pairs, two questions
    perm = list(range(len(pairs)))
    random.Random(1).shuffle(perm)
    sixteen = PTrueScorer(model, tok, batch_size=16).score([pairs[i] for i in perm])
    by_pair = {i: sixteen[j] for j, i in enumerate(perm)}
    sample = list(range(0, 16, 3))  # six pairs of both questions, each scored alone (batch 1)
    one = PTrueScorer(model, tok, batch_size=1).score([pairs[i] for i in sample])
    assert max(abs(a - by_pair[i]) for a, i in zip(one, sample)) < 1e-4
    # the shared-prefix cache computes what a plain forward and the naive full-logits loop compute
    plain = PTrueScorer(model, tok, batch_size=4, prefix_cache=False).score(pairs[:4])
    naive = [naive_score(model, tok, q, p) for q, p in pairs[:2]]
    assert max(abs(plain[i] - by_pair[i]) for i in range(4)) < 1e-4
    assert max(abs(naive[i] - by_pair[i]) for i in range(2)) < 1e-4
    assert all(0.0 < s < 1.0 for s in sixteen)


def test_relevant_passage_scores_higher(tiny_model):
    model, tok = tiny_model
    scorer = PTrueScorer(model, tok)
    q = "What is the capital of France?"
    rel = {"title": "Paris", "text": "Paris is the capital and most populous city of France."}
    irr = {"title": "Mitochondrion", "text": "A mitochondrion is an organelle found in the cells of most eukaryotes."}
    s_rel, s_irr = scorer.score_passages(q, [rel, irr])
    assert s_rel > s_irr


def test_true_vocab_is_at_most_true_false(tiny_model):
    model, tok = tiny_model
    pairs = _pairs()[:2]
    tf = PTrueScorer(model, tok, method="true-false").score(pairs)
    tv = PTrueScorer(model, tok, method="true-vocab").score(pairs)
    # P(True) over the vocabulary shares its numerator with the two-way softmax but has a larger denominator
    assert all(0.0 < v <= t + 1e-6 for v, t in zip(tv, tf))
    assert tv == pytest.approx([naive_score(model, tok, q, p, method="true-vocab") for q, p in pairs], abs=1e-5)


def test_long_passages_are_cut_to_max_length(tiny_model):
    model, tok = tiny_model
    scorer = PTrueScorer(model, tok, max_length=160)
    long = {"title": "T", "text": "word " * 2000}
    ids = scorer.encode_pair("a question?", long)
    assert len(ids) <= 160
    assert tok.decode(ids).rstrip().endswith("assistant")


def test_unknown_score_method(tiny_model):
    model, tok = tiny_model
    with pytest.raises(RankragError, match="unknown score"):
        PTrueScorer(model, tok, method="logprob")
