"""Model loading: hub names, local folders and the bundled tiny model (``smollm2-135m``).

Where each idea lives: loading in :mod:`.loading` (Unsloth in :mod:`.unsloth_loader`, 4-bit in
:mod:`.quant`); rendering a conversation or a prompt and tokenising it, with assistant-only labels,
in :mod:`.chat` (the one renderer: training, the scorer and the answerer all go through it).
"""

from rankrag_lite.modeling.loading import load_model, load_tokenizer, resolve_model

__all__ = ["load_model", "load_tokenizer", "resolve_model"]
