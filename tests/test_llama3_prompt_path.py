"""The Llama 3 prompt path on Meta's real tokenizers (tests/fixtures/llama3, licence files beside them).

The paper recipe trains Llama-3-8B base (no chat template: the plain ChatQA format) and Instruct has
the Llama 3 chat template. For both, a ranking row of the blend is tokenised as training does
(``modeling.chat.tokenize_chat``) and as the scorer does (``PTrueScorer.encode_pair``), and the tests
check that the scorer feeds exactly the ids training saw, with one BOS, reads the True/False ids that
follow the assistant marker in training, that labels cover exactly the answer and the end-of-turn
token, and that truncation cuts the passage, never the instruction. A tiny randomly initialised
LlamaForCausalLM with the 128,256-token vocabulary checks that the score is the model's P(True) at the
training position.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from rankrag_lite import prompts
from rankrag_lite.modeling.chat import IGNORE, tokenize_chat
from rankrag_lite.ranking.scorer import PTrueScorer
from rankrag_lite.ranking.tokens import answer_token_ids

FIX = Path(__file__).parent / "fixtures" / "llama3"
BOS = 128000
CASES = {  # folder: (answer token for True, for False, end-of-turn token)
    "llama3-8b-tokenizer": (3082, 3641, 128001),  # " True" / " False" after "Assistant:", <|end_of_text|>
    "llama3-8b-instruct-tokenizer": (2575, 4139, 128009),  # "True" after the header's "\n\n", <|eot_id|>
}
Q = "who designed the eiffel tower"
P = {"title": "Eiffel Tower", "text": "The tower was designed by the engineering company of Gustave Eiffel "
                                      "and finished in 1889 for the World's Fair in Paris."}


@pytest.fixture(scope="module")
def tiny_llama():
    from inference_helpers import tiny_llama3

    return tiny_llama3()


def _tok(name):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(FIX / name)


@pytest.mark.parametrize("name", sorted(CASES))
def test_training_ids_equal_scorer_ids_one_bos_labels(name, tiny_llama):
    tok = _tok(name)
    assert len(tok) == 128256
    assert (tok.chat_template is None) == (name == "llama3-8b-tokenizer")
    true_id, false_id, eot = CASES[name]
    scorer = PTrueScorer(tiny_llama, tok, prefix_cache=False)
    assert (scorer.tokens.true_id, scorer.tokens.false_id) == (true_id, false_id)
    fed = scorer.encode_pair(Q, P)
    assert fed.count(BOS) == 1 and fed[0] == BOS
    for label, answer_id in ((True, true_id), (False, false_id)):
        row = tokenize_chat(tok, prompts.context_ranking(Q, P, label=label))
        ids, labels = row["input_ids"], row["labels"]
        assert ids.count(BOS) == 1 and ids[0] == BOS
        assert ids[: len(fed)] == fed  # the scorer feeds exactly the prompt training saw
        assert ids[len(fed):] == [answer_id, eot]  # the answer token follows the assistant marker
        assert [x for x in labels if x != IGNORE] == [answer_id, eot]
        assert labels[: len(fed)] == [IGNORE] * len(fed)


@pytest.mark.parametrize("name", sorted(CASES))
def test_truncation_cuts_the_passage_never_the_instruction(name, tiny_llama):
    tok = _tok(name)
    long_p = {"title": P["title"], "text": " ".join([P["text"]] * 40)}
    full = PTrueScorer(tiny_llama, tok, prefix_cache=False).encode_pair(Q, long_p)
    limit = len(full) - 300
    cut = PTrueScorer(tiny_llama, tok, prefix_cache=False, max_length=limit).encode_pair(Q, long_p)
    assert len(cut) <= limit and cut.count(BOS) == 1
    text = tok.decode(cut)
    instruction = prompts.RANK_INSTRUCTION.format(question=Q)
    assert instruction in text and prompts.SYSTEM_PROMPT in text
    tail = tok(instruction, add_special_tokens=False)["input_ids"]
    # the prompt still ends with the whole instruction and the assistant marker, as in training
    assert cut[-(len(tail) + 12):] == full[-(len(tail) + 12):]
    assert text.count("Gustave Eiffel") < tok.decode(full).count("Gustave Eiffel")


@pytest.mark.parametrize("name", sorted(CASES))
def test_score_is_p_true_at_the_training_position(name, tiny_llama):
    import torch

    tok = _tok(name)
    scorer = PTrueScorer(tiny_llama, tok)
    fed = scorer.encode_pair(Q, P)
    row = tokenize_chat(tok, prompts.context_ranking(Q, P, label=True))
    with torch.inference_mode():
        logits = tiny_llama(input_ids=torch.tensor([row["input_ids"]])).logits[0]
    t, f = answer_token_ids(tok).true_id, answer_token_ids(tok).false_id
    at = logits[len(fed) - 1]  # the position whose label (next token) is the answer
    expected = float(torch.softmax(at[[t, f]], dim=-1)[0])
    assert scorer.score([(Q, P)])[0] == pytest.approx(expected, abs=1e-5)


@pytest.mark.parametrize("name", sorted(CASES))
def test_multi_turn_conversation_trains_on_every_reply(name):
    """A ChatQA ``sft`` row with an earlier assistant turn (Stage 1's data): the base tokenizer's plain
    format writes the EOS after the final reply only, the instruct template after each; the labels
    cover exactly the replies (and their end-of-turn tokens where the text has them)."""
    tok = _tok(name)
    msgs = [{"role": "user", "content": "Count to two."}, {"role": "assistant", "content": "1, 2"},
            {"role": "user", "content": "And to three?"}, {"role": "assistant", "content": "1, 2, 3"}]
    row = tokenize_chat(tok, msgs)
    eot = CASES[name][2]
    trained = tok.decode([x for x in row["labels"] if x != IGNORE])
    ends = tok.decode([eot])
    if name == "llama3-8b-tokenizer":  # plain format: "Assistant: 1, 2\n\nUser: ...": no EOS mid-text
        assert row["input_ids"].count(eot) == 1 and row["input_ids"][-1] == eot
        assert trained.split() == ["1,", "2", "1,", "2,", "3" + ends]
    else:
        assert row["input_ids"].count(eot) >= 2
        assert trained.replace(ends, " ").split() == ["1,", "2", "1,", "2,", "3"]
    last = tokenize_chat(tok, msgs, last_turn_only=True)
    assert last["input_ids"] == row["input_ids"]
    assert tok.decode([x for x in last["labels"] if x != IGNORE]).strip() == "1, 2, 3" + ends
