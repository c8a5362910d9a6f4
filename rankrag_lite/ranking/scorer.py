"""P("True") relevance scores from a causal LM, the RankRAG way.

The model reads the context-ranking prompt (``prompts.ranking_prompt``, rendered exactly as in
training) and the score is read from its next-token logits at the last prompt position:

- ``true-false`` (default): softmax over the two logits of "True" and "False", i.e.
  ``P(True) / (P(True) + P(False))``;
- ``true-vocab``: ``P(True)`` over the whole vocabulary.

The paper says only "the probability of generating the answer as True"; the default is our choice.

Speed: prompts are tokenised once, sorted by length and batched with left padding (explicit
position ids, so padding does not shift positions), the model computes logits only at the last
position (``logits_to_keep=1``) under ``torch.inference_mode``. The prompt head that every pair
shares (system text up to ``Passage:``, about 60 tokens with SmolLM2's template) is run once and
its key/value cache reused by every batch (``prefix_cache=True``): the suffix of each row is
left-padded *after* the shared head, and the mask hides the gap, so each row computes exactly
what it would alone. Scores do not depend on batch size or order (up to float rounding, < 1e-4).

Calibration (``ranking/calibration.py``): with ``calibration="auto"`` (default) a ``calibration.json``
beside the loaded model (``load_model`` notes the folder) is applied to every score, so scores are
calibrated probabilities; one fitted for another model is an error. ``calibration=None`` gives raw
P(True) (what ``calibrate`` fits on); a :class:`Calibration` is applied as given.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from rankrag_lite import prompts
from rankrag_lite.errors import RankragError
from rankrag_lite.modeling.chat import encode
from rankrag_lite.modeling.chat import prompt_text as render  # a prompt ending where the reply starts
from rankrag_lite.ranking.tokens import AnswerTokens, answer_token_ids

SCORE_METHODS = ("true-false", "true-vocab")


def check_method(method: str) -> str:
    if method not in SCORE_METHODS:
        raise RankragError(f"unknown score {method!r}; choose one of {list(SCORE_METHODS)}")
    return method


class PTrueScorer:
    """Score (question, passage) pairs by P("True") with one loaded ``(model, tokenizer)``.

    ``claim=True`` uses the FEVER claim-ranking prompt. ``max_length`` caps a prompt's tokens:
    longer passages are cut (the end of the passage text goes, the instruction stays).
    """

    def __init__(self, model, tokenizer, *, method: str = "true-false", batch_size: int = 16,
                 claim: bool = False, max_length: int = 2048, prefix_cache: bool = True,
                 calibration="auto"):
        if batch_size < 1:
            raise RankragError("batch size must be at least 1")
        self.model = model
        self.tokenizer = tokenizer
        self.method = check_method(method)
        self.batch_size = batch_size
        self.claim = claim
        self.max_length = max_length
        self.tokens: AnswerTokens = answer_token_ids(tokenizer)
        pad = tokenizer.pad_token_id
        if pad is None:
            pad = tokenizer.eos_token_id if tokenizer.eos_token_id is not None else 0
        self.pad_id = int(pad)
        self.prefix: list[int] = self._shared_prefix() if prefix_cache else []
        self._prefix_kv = None
        self.calibration = self._calibration(calibration)

    def _calibration(self, calibration):
        from rankrag_lite.ranking.calibration import Calibration, for_model

        if calibration is None or isinstance(calibration, Calibration):
            if calibration is not None:
                calibration.check_model(calibration.fingerprint, calibration.model, "calibration",
                                        self.method, self.claim, self.load_in_4bit)
            return calibration
        if calibration != "auto":
            raise TypeError(f"calibration must be 'auto', None or a Calibration, not {calibration!r}")
        source = getattr(self.model, "rankrag_source", None)
        if source is None:
            return None
        cal = for_model(source, method=self.method, claim=self.claim, load_in_4bit=self.load_in_4bit, auto=True)
        return cal

    @property
    def load_in_4bit(self) -> bool:
        """Whether the model computes with NF4 weights (its calibration must be fitted on NF4 too)."""
        import sys

        bnb = sys.modules.get("bitsandbytes")  # never imported: no module can be NF4
        return bnb is not None and any(isinstance(m, bnb.nn.Linear4bit) for m in self.model.modules())

    @property
    def calibrated(self) -> bool:
        return self.calibration is not None

    def _shared_prefix(self) -> list[int]:
        """Token ids that every ranking prompt starts with (found from two unrelated prompts)."""
        a = encode(self.tokenizer, render(self.tokenizer, prompts.ranking_prompt("Who?", "Alpha beta.", self.claim)))
        b = encode(self.tokenizer, render(self.tokenizer, prompts.ranking_prompt("What is x", "1 2 3", self.claim)))
        n = 0
        while n < min(len(a), len(b)) and a[n] == b[n]:
            n += 1
        # keep a margin of one token: the passage's first characters might merge with the last one
        return a[: max(0, n - 1)] if n >= 8 else []

    # -- prompts ---------------------------------------------------------------------------
    def encode_pair(self, question: str, passage) -> list[int]:
        """Token ids of the ranking prompt for one pair (passage text cut to fit ``max_length``)."""
        ids = encode(self.tokenizer, render(self.tokenizer, prompts.ranking_prompt(question, passage, self.claim)))
        if len(ids) <= self.max_length:
            return ids
        p = prompts._as_passage(passage)
        text_ids = self.tokenizer(p.text, add_special_tokens=False)["input_ids"]
        keep = max(0, len(text_ids) - (len(ids) - self.max_length) - 8)
        cut = prompts.PromptPassage(text=self.tokenizer.decode(text_ids[:keep]), title=p.title)
        ids = encode(self.tokenizer, render(self.tokenizer, prompts.ranking_prompt(question, cut, self.claim)))
        if len(ids) > self.max_length:
            raise RankragError(
                f"the ranking prompt needs {len(ids)} tokens even with an empty passage; raise max_length"
            )
        return ids

    # -- scoring ---------------------------------------------------------------------------
    def score_encoded(self, seqs: Sequence[Sequence[int]],
                      on_batch: Callable[[int], None] | None = None) -> list[float]:
        """Scores for already-encoded prompts, in input order."""
        import torch

        n = len(seqs)
        out = [0.0] * n
        P = len(self.prefix)
        cached = [P > 0 and len(s) > P and list(s[:P]) == self.prefix for s in seqs]
        # rows using the shared head first, then the others; each group sorted by length
        order = sorted(range(n), key=lambda i: (not cached[i], len(seqs[i])))
        with torch.inference_mode():
            start = 0
            while start < n:
                group = cached[order[start]]
                idx = [i for i in order[start:start + self.batch_size] if cached[i] == group]
                # a lone row gains nothing from the shared head, and transformers' cached-prefix path
                # is several times slower than a plain forward at batch size 1 (measured on CPU)
                group = group and len(idx) > 1
                probs = self._forward([seqs[i][P:] if group else seqs[i] for i in idx], group)
                for row, i in enumerate(idx):
                    out[i] = float(probs[row])
                start += len(idx)
                if on_batch is not None:
                    on_batch(len(idx))
        return self.calibration.apply(out) if self.calibration is not None else out

    def _prefix_cache(self, batch: int):
        import copy

        import torch

        device = next(self.model.parameters()).device
        if self._prefix_kv is None:
            ids = torch.tensor([self.prefix], dtype=torch.long, device=device)
            self._prefix_kv = self.model(input_ids=ids, use_cache=True, logits_to_keep=1).past_key_values
        kv = copy.deepcopy(self._prefix_kv)
        if batch > 1:
            kv.batch_repeat_interleave(batch)
        return kv

    def _forward(self, rows: list[Sequence[int]], with_prefix: bool):
        """P(True) for one batch of token rows (suffixes after the shared head when ``with_prefix``)."""
        import torch

        device = next(self.model.parameters()).device
        P = len(self.prefix) if with_prefix else 0
        width = max(len(r) for r in rows)
        input_ids = torch.full((len(rows), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for row, r in enumerate(rows):
            input_ids[row, width - len(r):] = torch.as_tensor(list(r), dtype=torch.long)
            mask[row, width - len(r):] = 1
        position_ids = P + (mask.cumsum(-1) - 1).clamp(min=0)
        kwargs = {}
        if with_prefix:
            kwargs["past_key_values"] = self._prefix_cache(len(rows))
            mask = torch.cat([torch.ones((len(rows), P), dtype=torch.long), mask], dim=1)
        logits = self.model(
            input_ids=input_ids.to(device),
            attention_mask=mask.to(device),
            position_ids=position_ids.to(device),
            logits_to_keep=1,
            use_cache=with_prefix,
            **kwargs,
        ).logits[:, -1, :].float()
        t, f = self.tokens.true_id, self.tokens.false_id
        if self.method == "true-false":
            return torch.softmax(logits[:, [t, f]], dim=-1)[:, 0].cpu()
        return torch.softmax(logits, dim=-1)[:, t].cpu()

    def score(self, pairs: Iterable[tuple[str, object]],
              on_batch: Callable[[int], None] | None = None) -> list[float]:
        """P(True) for each ``(question, passage)`` pair (passage: str, dict or Passage)."""
        seqs = [self.encode_pair(q, p) for q, p in pairs]
        return self.score_encoded(seqs, on_batch=on_batch)

    def score_passages(self, question: str, passages: Sequence) -> list[float]:
        """Scores of one question's passages, in the given order."""
        return self.score([(question, p) for p in passages])


def naive_score(model, tokenizer, question: str, passage, method: str = "true-false",
                claim: bool = False) -> float:
    """Reference implementation: one pair, full logits, no batching (benchmarks and tests)."""
    import torch

    tokens = answer_token_ids(tokenizer)
    ids = encode(tokenizer, render(tokenizer, prompts.ranking_prompt(question, passage, claim)))
    with torch.inference_mode():
        logits = model(input_ids=torch.tensor([ids], device=next(model.parameters()).device)).logits
    last = logits[0, -1].float()
    if method == "true-false":
        return float(torch.softmax(last[[tokens.true_id, tokens.false_id]], dim=-1)[0])
    return float(torch.softmax(last, dim=-1)[tokens.true_id])
