"""Can 4-bit (bitsandbytes NF4) run here? Checked by a real forward/backward, not an import."""

from __future__ import annotations

import functools
import importlib.util

from rankrag_lite.errors import RankragError


@functools.cache
def _probe(device: str) -> str | None:
    if importlib.util.find_spec("bitsandbytes") is None:
        return "bitsandbytes is not installed (it is a core dependency: pip install bitsandbytes==0.50.2)"
    try:
        import warnings

        import torch

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import bitsandbytes as bnb

            dtype = torch.float32 if device == "cpu" else torch.float16
            layer = bnb.nn.Linear4bit(128, 64, bias=False, compute_dtype=dtype, quant_type="nf4")
            layer = layer.to(device)
            if not getattr(layer.weight, "bnb_quantized", False):
                layer.weight = layer.weight._quantize(device)
            x = torch.randn(4, 128, dtype=dtype, device=device, requires_grad=True)
            y = layer(x)
            y.float().sum().backward()
            if not bool(torch.isfinite(y).all()) or x.grad is None:
                return "bitsandbytes 4-bit gives non-finite results on this machine"
    except Exception as e:  # noqa: BLE001 - any failure means "cannot run here"
        return f"bitsandbytes 4-bit does not run on {device} ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})"
    return None


def check_4bit(device: str | None = None) -> None:
    """RankragError when NF4 4-bit cannot run on ``device`` (default: the GPU if any, else the CPU).

    bitsandbytes >= 0.49 ships a CPU backend, so a CPU is refused only where the probe fails there.
    """
    if device is None:
        import torch

        device = "cuda" if torch.cuda.is_available() else "cpu"
    reason = _probe("cuda" if str(device).startswith("cuda") else "cpu")
    if reason:
        raise RankragError(f"--load-in-4bit cannot run here: {reason}")
