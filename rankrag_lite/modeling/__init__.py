"""Model loading: hub names, local folders and the bundled tiny model (``smollm2-135m``)."""

from rankrag_lite.modeling.loading import load_model, load_tokenizer, resolve_model

__all__ = ["load_model", "load_tokenizer", "resolve_model"]
