"""``RankRAG``: the library object on the kit's loader, scorer and answerer (the shipped adapter)."""

from __future__ import annotations

import numpy as np
import pytest

from api_passages import DOCS, GOLD, QUESTION
from rankrag_lite import RankRAG
from rankrag_lite.ranking.scorer import PTrueScorer

pytestmark = pytest.mark.slow


def test_rank_is_sorted_like_cross_encoder_rank_and_puts_the_gold_passage_first(shipped_rankrag):
    hits = shipped_rankrag.rank(QUESTION, DOCS)
    assert [set(h) for h in hits] == [{"corpus_id", "score"}] * len(DOCS)
    assert sorted(h["corpus_id"] for h in hits) == list(range(len(DOCS)))
    assert [h["score"] for h in hits] == sorted((h["score"] for h in hits), reverse=True)
    assert hits[0]["corpus_id"] == GOLD
    top = shipped_rankrag.rank(QUESTION, DOCS, top_k=2, return_documents=True)
    assert [h["corpus_id"] for h in top] == [h["corpus_id"] for h in hits[:2]]
    assert top[0]["text"] == DOCS[GOLD]


def test_score_and_score_passages_are_the_scorer_s_p_true(shipped_rankrag):
    m = shipped_rankrag
    direct = PTrueScorer(m.model, m.tokenizer).score_passages(QUESTION, DOCS)
    by_pairs = m.score([(QUESTION, d) for d in DOCS])
    assert isinstance(by_pairs, np.ndarray) and by_pairs.shape == (len(DOCS),)
    assert by_pairs == pytest.approx(direct, abs=1e-5)
    assert m.score_passages(QUESTION, DOCS) == pytest.approx(direct, abs=1e-5)
    ranked = {h["corpus_id"]: h["score"] for h in m.rank(QUESTION, DOCS)}
    assert [ranked[i] for i in range(len(DOCS))] == pytest.approx(direct, abs=1e-5)
    # {title, text} dicts go into the prompt with their title: a different score than the bare text
    titled = m.score_passages(QUESTION, [{"title": "Hamlet", "text": DOCS[GOLD]}])[0]
    assert 0.0 < titled < 1.0 and titled != pytest.approx(direct[GOLD], abs=1e-6)


def test_answer_and_verify(shipped_rankrag):
    hits = shipped_rankrag.rank(QUESTION, DOCS, top_k=2, return_documents=True)
    answer = shipped_rankrag.answer(QUESTION, [h["text"] for h in hits], max_new_tokens=8)
    assert "Shakespeare" in answer
    verdict = shipped_rankrag.verify("Hamlet was written by William Shakespeare.", DOCS[:1])
    assert verdict["prediction"] in ("True", "False") and 0.0 <= verdict["p_true"] <= 1.0
    assert verdict["prediction"] == ("True" if verdict["p_true"] >= 0.5 else "False")


def test_rag_retrieves_reranks_and_answers(shipped_rankrag, tmp_path):
    from rankrag_lite.retrieval import build_index

    index = build_index([{"id": f"d{i}", "title": "", "text": t} for i, t in enumerate(DOCS)])
    out = shipped_rankrag.rag(QUESTION, index, n=4, k=2, max_new_tokens=8)
    # BM25 matches only the Hamlet passage (no other passage shares a word with the question)
    assert out["question"] == QUESTION and [p["pid"] for p in out["passages"]] == [f"d{GOLD}"]
    top = out["passages"][0]
    assert top["rerank_score"] == pytest.approx(shipped_rankrag.score_passages(QUESTION, DOCS[:1])[0], abs=1e-5)
    assert top["score"] > 0  # the BM25 score is kept
    assert "Shakespeare" in out["answer"]
    folder = tmp_path / "idx"
    index.save(folder)
    assert shipped_rankrag.rag(QUESTION, folder, n=4, k=1, max_new_tokens=8)["passages"][0]["pid"] == f"d{GOLD}"


def test_api_misuse_is_a_type_or_value_error(shipped_rankrag):
    m = shipped_rankrag
    with pytest.raises(TypeError, match="passages must be a list"):
        m.rank(QUESTION, DOCS[0])  # one string, not a list
    with pytest.raises(TypeError, match=r"passages\[1\]"):
        m.rank(QUESTION, [DOCS[0], 3])
    with pytest.raises(TypeError, match="without a string 'text'"):
        m.score_passages(QUESTION, [{"title": "x"}])
    with pytest.raises(ValueError, match="top_k"):
        m.rank(QUESTION, DOCS, top_k=0)
    with pytest.raises(TypeError, match=r"pairs\[0\]"):
        m.score([QUESTION])
    with pytest.raises(ValueError, match="larger than"):
        m.rag(QUESTION, None, n=2, k=3)
    with pytest.raises(TypeError, match="retriever"):
        m.rag(QUESTION, object(), n=2, k=1)
    with pytest.raises(ValueError, match="unknown score"):
        RankRAG(m.model, m.tokenizer, score="logits")
    with pytest.raises(ValueError, match="unknown dtype"):
        RankRAG.from_pretrained("smollm2-135m-rankrag", dtype="float7")


def test_the_library_refuses_what_the_cli_refuses(shipped_rankrag):
    """An empty query / question / claim, and an answer or verdict without passages, are ValueErrors
    (they returned scores, "Hamlet" and (True, 0.64) before issue 21); ranking no passages is []."""
    m = shipped_rankrag
    for query in ("", "   ", "\n\t"):
        with pytest.raises(ValueError, match="query is empty"):
            m.rank(query, DOCS)
        with pytest.raises(ValueError, match="query is empty"):
            m.score_passages(query, DOCS)
        with pytest.raises(ValueError, match=r"pairs\[0\]\[0\] \(the query\) is empty"):
            m.score([(query, DOCS[0])])
        with pytest.raises(ValueError, match="question is empty"):
            m.answer(query, DOCS)
        with pytest.raises(ValueError, match="claim is empty"):
            m.verify(query, DOCS)
        with pytest.raises(ValueError, match="question is empty"):
            m.rag(query, None)
    with pytest.raises(ValueError, match="passages is empty: RankRAG answers from passages"):
        m.answer(QUESTION, [])
    with pytest.raises(ValueError, match="passages is empty"):
        m.verify("Hamlet was written by William Shakespeare.", [])
    assert m.rank(QUESTION, []) == []


def test_with_settings_shares_the_weights(shipped_rankrag):
    assert shipped_rankrag.with_settings(batch_size=shipped_rankrag.batch_size) is shipped_rankrag
    other = shipped_rankrag.with_settings(score="true-vocab", batch_size=2)
    assert other.model is shipped_rankrag.model and other.scorer.method == "true-vocab"
    assert RankRAG.wrap((other.model, other.tokenizer), batch_size=3).scorer.batch_size == 3
    with pytest.raises(TypeError):
        RankRAG.wrap("smollm2-135m")



@pytest.mark.parametrize("capability, expected", [((7, 5), "float16"), ((7, 0), "float16"), ((8, 0), "bfloat16"),
                                                  ((8, 9), "bfloat16"), ((9, 0), "bfloat16")],
                         ids=["T4", "V100", "A100", "L4", "H100"])
def test_compute_dtype_follows_native_bf16_not_torchs_emulated_support(capability, expected, monkeypatch):
    """torch.cuda.is_bf16_supported() says True on a T4 (emulated): the kit asks the capability."""
    import torch

    from rankrag_lite.modeling.loading import default_dtype

    assert default_dtype("cuda", capability=capability) == getattr(torch, expected)
    # the same through the device query every loader makes, with the capability injected there
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda *a, **k: capability)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    assert default_dtype("cuda") == getattr(torch, expected)
    assert default_dtype("cpu") == torch.float32
