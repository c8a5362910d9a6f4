"""An SFTTrainer whose loss projects through the LM head only where a label is trained.

TRL 1.15's own loss path (``fused_lm_head``) does this with Triton kernels, which a CPU-only torch
does not ship (``trl.kernels`` fails to import, and SFTTrainer then fails on its first step). This
subclass does the same in plain PyTorch: it asks the model for the logits at the positions whose
next token is trained (``logits_to_keep`` as an index tensor), so the ``(tokens x vocab)`` logits
are built for a few hundred answer tokens instead of every prompt token (the passage-heavy RankRAG
prompts are mostly context). Used by the ``hf`` backend where TRL's kernels are unavailable, and
for rows packed behind a shared system head (:mod:`rankrag_lite.training.packing`), whose 4D bool
attention mask it hands to the model in the form its attention implementation takes.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from trl import SFTTrainer

from rankrag_lite.modeling.chat import IGNORE
from rankrag_lite.training.packing import mask_for_attention


def trl_kernels_available() -> bool:
    try:
        from trl.trainer import utils as trl_utils
    except Exception:  # pragma: no cover
        return False
    return getattr(trl_utils, "_ChunkedLogProbFunction", None) is not None


class SelectiveHeadSFTTrainer(SFTTrainer):
    """``selective_head=False`` gives the plain full-logits loss (the model's own, for baselines)."""

    def __init__(self, *args, selective_head: bool = True, **kwargs):
        self.selective_head = selective_head
        super().__init__(*args, **kwargs)

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        mode = "train" if model.training else "eval"
        inputs = dict(inputs)
        labels = inputs.pop("labels")
        inputs["use_cache"] = False
        n_tok = None
        mask4d = inputs.get("attention_mask")
        if mask4d is not None and mask4d.dim() == 4:  # packed rows behind a shared head
            n_tok = int(mask4d.diagonal(dim1=-2, dim2=-1).sum())  # padding sees nothing, not even itself
            inputs["attention_mask"] = mask_for_attention(
                mask4d, model.config._attn_implementation, model.get_input_embeddings().weight.dtype)
        shift = labels[:, 1:]
        if self.selective_head:
            # positions p whose next token (p + 1) is trained, in any row of the batch
            keep = (shift != IGNORE).any(dim=0).nonzero().squeeze(-1)
            out = model(**inputs, logits_to_keep=keep)
            logits = out.logits
            targets = shift[:, keep]
        else:
            out = model(**inputs)
            logits = out.logits[:, :-1]
            targets = shift
        logits = logits.float()
        mask = targets != IGNORE
        n = mask.sum() if num_items_in_batch is None else num_items_in_batch
        loss = F.cross_entropy(
            logits.reshape(-1, logits.size(-1)), targets.reshape(-1), ignore_index=IGNORE, reduction="sum"
        ) / torch.as_tensor(n, device=logits.device).clamp(min=1)
        if self.args.average_tokens_across_devices and num_items_in_batch is not None:
            loss = loss * self.accelerator.num_processes
        with torch.no_grad():
            correct = ((logits.argmax(-1) == targets) & mask).sum()
            valid = mask.sum()
        self._metrics[mode]["mean_token_accuracy"].append((correct / valid).item() if valid > 0 else 0.0)
        if mode == "train":
            if n_tok is None:
                n_tok = (int(inputs["attention_mask"].sum()) if "attention_mask" in inputs
                         else int(inputs["input_ids"].numel()))
            self._total_train_tokens += n_tok
        self._metrics[mode]["num_tokens"] = [self._total_train_tokens]
        return (loss, out) if return_outputs else loss
