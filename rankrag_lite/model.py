"""``RankRAG``: one loaded model that ranks, answers and verifies, as a Python object.

    from rankrag_lite import RankRAG
    model = RankRAG.from_pretrained("smollm2-135m-rankrag")
    hits = model.rank("who wrote hamlet", docs, top_k=3, return_documents=True)
    model.answer("who wrote hamlet", [h["text"] for h in hits])

It wraps the kit's own pieces and nothing else: :func:`~rankrag_lite.modeling.loading.load_model`
loads, :class:`~rankrag_lite.ranking.scorer.PTrueScorer` scores, and
:class:`~rankrag_lite.generation.answerer.Answerer` answers. The CLI (``rerank``, ``answer``, ``rag``),
:func:`rankrag_lite.pipeline.rag` and ``evaluate`` go through this object too.

``rank`` returns what sentence-transformers' ``CrossEncoder.rank`` returns (a list of
``{"corpus_id", "score"[, "text"]}``, best first) and ``score`` an array as ``CrossEncoder.predict``
does, so code written for a cross-encoder takes this model as it is. Scores are P("True") of the
RankRAG ranking prompt (``score="true-false"``: over the True/False logits; ``"true-vocab"``: over the
vocabulary). Passages are strings or ``{"title", "text"}`` dicts (or objects with ``.text`` and
``.title``, such as retrieval hits).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

from rankrag_lite.ranking.scorer import SCORE_METHODS, PTrueScorer

__all__ = ["RankRAG"]


def _check_passages(passages, what: str = "passages") -> list:
    if isinstance(passages, (str, bytes, Mapping)) or not isinstance(passages, Sequence):
        raise TypeError(f"{what} must be a list of strings or {{title, text}} dicts, "
                        f"got {type(passages).__name__}")
    for i, p in enumerate(passages):
        if isinstance(p, str):
            continue
        if isinstance(p, Mapping):
            if not isinstance(p.get("text"), str):
                raise TypeError(f"{what}[{i}] is a dict without a string 'text'")
            continue
        if not isinstance(getattr(p, "text", None), str):
            raise TypeError(f"{what}[{i}] must be a string or a {{title, text}} dict, got {type(p).__name__}")
    return list(passages)


def _check_text(value, what: str) -> str:
    """A query, question or claim: a string with some text (the CLI refuses an empty question too)."""
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a string, got {type(value).__name__}")
    if not value.strip():
        raise ValueError(f"{what} is empty: there is nothing to rank or answer for")
    return value


def _check_evidence(passages, what: str = "passages") -> list:
    """The passages an answer or verdict reads: at least one (with none, any output would be a guess
    from the model's memory, not from evidence; the CLI refuses a record without passages too)."""
    ps = _check_passages(passages, what)
    if not ps:
        raise ValueError(f"{what} is empty: RankRAG answers from passages, give at least one "
                         "(rag() retrieves them)")
    return ps


def _check_positive(value, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what} must be an int, got {type(value).__name__}")
    if value < 1:
        raise ValueError(f"{what} must be at least 1, got {value}")
    return value


def _torch_dtype(dtype):
    if dtype is None or not isinstance(dtype, str):
        return dtype
    import torch

    value = getattr(torch, dtype, None)
    if not isinstance(value, torch.dtype):
        raise ValueError(f"unknown dtype {dtype!r} (e.g. 'float32', 'bfloat16', 'float16')")
    return value


class RankRAG:
    """A RankRAG model: P("True") reranker and reader in one causal LM.

    Build it with :meth:`from_pretrained`, or wrap an already loaded ``(model, tokenizer)``:
    ``RankRAG(model, tokenizer)``.
    """

    def __init__(self, model, tokenizer, *, name: str | None = None, batch_size: int = 16,
                 score: str = "true-false", max_length: int = 2048, calibration="auto"):
        _check_positive(batch_size, "batch_size")
        _check_positive(max_length, "max_length")
        if score not in SCORE_METHODS:
            raise ValueError(f"unknown score {score!r}; choose one of {list(SCORE_METHODS)}")
        self.model = model
        self.tokenizer = tokenizer
        self.name = name
        self.batch_size = batch_size
        self.score_method = score
        self.max_length = max_length
        #: ``"auto"``: the ``calibration.json`` beside the model when there is one; ``None``: raw
        #: P(True); or a calibration (:mod:`rankrag_lite.ranking.calibration`)
        self.calibration = calibration
        #: the P("True") scorer of the ranking prompt (``encode_pair`` / ``score_encoded`` for bulk use)
        self.scorer = PTrueScorer(model, tokenizer, method=score, batch_size=batch_size, max_length=max_length,
                                  calibration=calibration)
        self._answerers: dict[tuple[int, int], object] = {}

    @classmethod
    def from_pretrained(cls, name_or_path: str | os.PathLike, *, load_in_4bit: bool = False,
                        device: str | None = None, dtype=None, batch_size: int = 16,
                        score: str = "true-false", max_length: int = 2048, calibration="auto") -> RankRAG:
        """Load what ``--model`` takes: the aliases ``smollm2-135m`` / ``smollm2-135m-rankrag``, a hub
        name, a model folder or a LoRA adapter folder (loaded on its base).

        ``device``: ``"cpu"``, ``"cuda"``, ... (default: CUDA when there is one). ``dtype``: a
        ``torch.dtype`` or its name (default: bf16/fp16 on a GPU, fp32 on a CPU). ``load_in_4bit``:
        bitsandbytes NF4 weights. ``batch_size``, ``score`` and ``calibration`` (``"auto"``: the
        ``calibration.json`` beside the model, if any) are the scorer's settings.
        """
        from rankrag_lite.modeling.loading import load_model

        if not isinstance(name_or_path, (str, os.PathLike)):
            raise TypeError(f"name_or_path must be a string or a path, got {type(name_or_path).__name__}")
        if score not in SCORE_METHODS:
            raise ValueError(f"unknown score {score!r}; choose one of {list(SCORE_METHODS)}")
        if not isinstance(load_in_4bit, bool):
            raise TypeError(f"load_in_4bit must be a bool, got {type(load_in_4bit).__name__}")
        _check_positive(batch_size, "batch_size")
        _check_positive(max_length, "max_length")  # misuse fails before the weights load
        model, tok = load_model(name_or_path, device=device, dtype=_torch_dtype(dtype),
                                load_in_4bit=load_in_4bit)
        return cls(model, tok, name=str(name_or_path), batch_size=batch_size, score=score,
                   max_length=max_length, calibration=calibration)

    @classmethod
    def wrap(cls, loaded, **settings) -> RankRAG:
        """``loaded`` as a RankRAG with these settings: a RankRAG (the same weights, its settings
        replaced where given) or a ``(model, tokenizer)`` pair."""
        if isinstance(loaded, RankRAG):
            return loaded.with_settings(**settings)
        if isinstance(loaded, tuple) and len(loaded) == 2:
            return cls(*loaded, **settings)
        raise TypeError(f"expected a RankRAG or a (model, tokenizer) pair, got {type(loaded).__name__}")

    def with_settings(self, *, name: str | None = None, batch_size: int | None = None,
                      score: str | None = None, max_length: int | None = None,
                      calibration=None) -> RankRAG:
        """This model with other scorer settings (shares the weights; ``self`` when nothing changes)."""
        new = {"name": self.name if name is None else name,
               "batch_size": self.batch_size if batch_size is None else batch_size,
               "score": self.score_method if score is None else score,
               "max_length": self.max_length if max_length is None else max_length,
               "calibration": self.calibration if calibration is None else calibration}
        old = {"name": self.name, "batch_size": self.batch_size, "score": self.score_method,
               "max_length": self.max_length, "calibration": self.calibration}
        return self if new == old else RankRAG(self.model, self.tokenizer, **new)

    def __repr__(self) -> str:
        return f"RankRAG({self.name or type(self.model).__name__!r}, score={self.score_method!r})"

    # -- ranking ---------------------------------------------------------------------------
    def score(self, pairs: Sequence) -> "numpy.ndarray":  # noqa: F821
        """P("True") of each ``(query, passage)`` pair, as a float array (``CrossEncoder.predict``)."""
        import numpy as np

        if isinstance(pairs, (str, Mapping)) or not isinstance(pairs, Sequence):
            raise TypeError(f"pairs must be a list of (query, passage) pairs, got {type(pairs).__name__}")
        checked = []
        for i, pair in enumerate(pairs):
            if isinstance(pair, str) or not isinstance(pair, Sequence) or len(pair) != 2:
                raise TypeError(f"pairs[{i}] must be a (query, passage) pair")
            _check_text(pair[0], f"pairs[{i}][0] (the query)")
            _check_passages([pair[1]], f"pairs[{i}][1:]")
            checked.append((pair[0], pair[1]))
        return np.asarray(self.scorer.score(checked), dtype=np.float64)

    def score_passages(self, query: str, passages: Sequence) -> list[float]:
        """P("True") of each passage for ``query``, in the given order."""
        _check_text(query, "query")
        return self.scorer.score_passages(query, _check_passages(passages))

    def rank(self, query: str, passages: Sequence, top_k: int | None = None,
             return_documents: bool = False) -> list[dict]:
        """``[{"corpus_id", "score"[, "text"]}]`` sorted by score, best first (ties keep the input
        order); ``corpus_id`` is the passage's index in ``passages``, ``text`` the passage as given."""
        if top_k is not None:
            _check_positive(top_k, "top_k")
        scores = self.score_passages(query, passages)
        results = []
        for i, s in enumerate(scores):
            results.append({"corpus_id": i, "score": float(s)})
            if return_documents:
                results[-1]["text"] = passages[i]
        results.sort(key=lambda r: -r["score"])
        return results[:top_k]

    # -- answering -------------------------------------------------------------------------
    def _answerer(self, max_new_tokens: int, batch_size: int | None = None):
        from rankrag_lite.generation.answerer import Answerer

        _check_positive(max_new_tokens, "max_new_tokens")
        # generation holds a key/value cache per row: half the scoring batch by default
        batch_size = max(1, self.batch_size // 2) if batch_size is None else _check_positive(batch_size, "batch_size")
        key = (max_new_tokens, batch_size)
        if key not in self._answerers:
            self._answerers[key] = Answerer(self.model, self.tokenizer, max_new_tokens=max_new_tokens,
                                            batch_size=batch_size)
        return self._answerers[key]

    def answerer(self, max_new_tokens: int = 32, batch_size: int | None = None):
        """The :class:`~rankrag_lite.generation.answerer.Answerer` of this model (for bulk use; the
        CLI's ``answer`` and ``rag``). ``batch_size``: prompts per generate call (default: half the
        scoring batch)."""
        return self._answerer(max_new_tokens, batch_size)

    def answer(self, question: str, passages: Sequence, k: int = 5, max_new_tokens: int = 32) -> str:
        """A short answer from the first ``k`` passages in the given order (rank them first, or use
        :meth:`rag`), with the paper's inference prompt and greedy decoding."""
        _check_text(question, "question")
        _check_positive(k, "k")
        ps = _check_evidence(passages)
        return self._answerer(max_new_tokens).answer([(question, ps[:k])])[0]["prediction"]

    def verify(self, claim: str, passages: Sequence, k: int = 5) -> dict:
        """FEVER-style verdict on ``claim`` from the first ``k`` passages:
        ``{"prediction": "True" | "False", "p_true"}`` (P("True") at the answer, True when >= 0.5)."""
        _check_text(claim, "claim")
        _check_positive(k, "k")
        ps = _check_evidence(passages)
        return self._answerer(1).verify_claims([(claim, ps[:k])])[0]

    def rag(self, question: str, retriever, n: int = 100, k: int = 5, max_new_tokens: int = 32) -> dict:
        """Retrieve ``n`` passages with ``retriever`` (a :class:`~rankrag_lite.retrieval.BM25Index` or a
        saved index folder), rerank them, answer from the top ``k``.

        Returns ``{"question", "answer", "passages"}``: the top-``k`` passages
        ``{pid, title, text, score (BM25), rerank_score}``, best first.
        """
        from rankrag_lite.retrieval import BM25Index, load_index

        _check_text(question, "question")
        _check_positive(n, "n")
        _check_positive(k, "k")
        if k > n:
            raise ValueError(f"k ({k}) is larger than the n ({n}) retrieved passages")
        if isinstance(retriever, (str, os.PathLike)):
            retriever = load_index(retriever)
        if not isinstance(retriever, BM25Index):
            raise TypeError(f"retriever must be a BM25Index or an index folder, got {type(retriever).__name__}")
        hits = [h.to_dict() for h in retriever.search([question], k=n)[0]]
        for h, s in zip(hits, self.score_passages(question, hits)):
            h["rerank_score"] = s
        top = sorted(hits, key=lambda h: -h["rerank_score"])[:k]
        answer = self.answer(question, top, k=k, max_new_tokens=max_new_tokens) if top else ""
        return {"question": question, "answer": answer, "passages": top}
