"""Answering from the top-k passages with the paper's inference prompt.

- Open-domain QA: ``prompts.inference_qa`` (``Passage 1..k`` + "{question}. Answer the above question
  with a short phrase."), greedy decoding, at most ``max_new_tokens`` (32, as in the paper) new
  tokens, batched with left padding (prompts sorted by length). The prediction is the first
  non-empty line of the output, stripped (the raw text is kept as ``raw``).
- FEVER-style claims: ``prompts.claim_verification``; the verdict is read like a ranking score:
  P("True") over {True, False} at the answer position, "True" when it is at least 0.5.
"""

from __future__ import annotations

from collections.abc import Sequence

from rankrag_lite import prompts
from rankrag_lite.errors import RankragError
from rankrag_lite.modeling.chat import encode, prompt_text


def first_line(text: str) -> str:
    for line in text.strip().splitlines():
        if line.strip():
            return line.strip()
    return ""


class Answerer:
    """Greedy answers (and claim verdicts) from one loaded ``(model, tokenizer)``."""

    def __init__(self, model, tokenizer, *, max_new_tokens: int = 32, batch_size: int = 8):
        if max_new_tokens < 1:
            raise RankragError("max_new_tokens must be at least 1")
        if batch_size < 1:
            raise RankragError("batch size must be at least 1")
        self.model = model
        self.tokenizer = tokenizer
        self.max_new_tokens = max_new_tokens
        self.batch_size = batch_size
        pad = tokenizer.pad_token_id
        self.pad_id = int(pad if pad is not None else (tokenizer.eos_token_id or 0))
        self._claim_scorer = None

    def qa_ids(self, question: str, passages: Sequence) -> list[int]:
        return encode(self.tokenizer, prompt_text(self.tokenizer, prompts.inference_qa(question, passages)))

    def generate_ids(self, seqs: Sequence[Sequence[int]], on_batch=None) -> list[str]:
        """Greedy continuations of already-encoded prompts, in input order (batched by length);
        ``on_batch(n)`` is called after each batch of ``n`` prompts (a progress bar's advance)."""
        import torch

        device = next(self.model.parameters()).device
        out = [""] * len(seqs)
        order = sorted(range(len(seqs)), key=lambda i: len(seqs[i]))
        eos = self.tokenizer.eos_token_id
        with torch.inference_mode():
            for start in range(0, len(order), self.batch_size):
                idx = order[start:start + self.batch_size]
                width = max(len(seqs[i]) for i in idx)
                ids = torch.full((len(idx), width), self.pad_id, dtype=torch.long)
                mask = torch.zeros((len(idx), width), dtype=torch.long)
                for row, i in enumerate(idx):
                    ids[row, width - len(seqs[i]):] = torch.as_tensor(list(seqs[i]), dtype=torch.long)
                    mask[row, width - len(seqs[i]):] = 1
                gen = self.model.generate(
                    input_ids=ids.to(device), attention_mask=mask.to(device), do_sample=False,
                    max_new_tokens=self.max_new_tokens, pad_token_id=self.pad_id, eos_token_id=eos,
                    temperature=None, top_p=None, top_k=None,
                )
                for row, i in enumerate(idx):
                    out[i] = self.tokenizer.decode(gen[row, width:], skip_special_tokens=True)
                if on_batch is not None:
                    on_batch(len(idx))
        return out

    def answer(self, items: Sequence[tuple[str, Sequence]], on_batch=None) -> list[dict]:
        """``[(question, top_k_passages)]`` -> ``[{prediction, raw}]``; ``on_batch`` as in
        :meth:`generate_ids`."""
        raw = self.generate_ids([self.qa_ids(q, ps) for q, ps in items], on_batch)
        return [{"prediction": first_line(r), "raw": r} for r in raw]

    def verify_claims(self, items: Sequence[tuple[str, Sequence]]) -> list[dict]:
        """``[(claim, top_k_passages)]`` -> ``[{prediction: "True"|"False", p_true}]``."""
        from rankrag_lite.ranking.scorer import PTrueScorer

        if self._claim_scorer is None:
            # calibration=None: a ranking calibration does not fit the claim-verification prompt
            self._claim_scorer = PTrueScorer(self.model, self.tokenizer, batch_size=self.batch_size,
                                             calibration=None)
        seqs = [encode(self.tokenizer, prompt_text(self.tokenizer, prompts.claim_verification(c, ps)))
                for c, ps in items]
        probs = self._claim_scorer.score_encoded(seqs)
        return [{"prediction": prompts.TRUE if p >= 0.5 else prompts.FALSE, "p_true": p} for p in probs]
