"""Calibrated relevance: Platt (temperature + bias) scaling of the P("True") logit.

The scorer's P(True) is a softmax over the "True"/"False" logits, so its logit
``z = log P(True) - log P(False)`` is exactly the difference of those two logits. A calibration maps it to
``sigmoid(z / T + b)`` (``T > 0``: the order of passages never changes), fitted by minimising the
log-loss on labelled (question, passage, relevant?) pairs (``torch.optim.LBFGS``).

A calibration file (JSON) records the model it was fitted for, as a fingerprint of the model's files
(:func:`model_fingerprint`), the score method and prompt, and the before/after numbers of the
held-out split. It lives beside the model (``<model folder>/calibration.json``; for the shipped
adapter inside ``rankrag_lite/assets/smollm2-135m-rankrag/``); the scorer applies it when present.
A file fitted for another model is an error, never silently applied. The file also records the
weights' precision it was fitted at: NF4 (``--load-in-4bit``) shifts the shipped adapter's P(True) by
about +0.2 while keeping its order (``tests/test_quant.py``), so a full-precision calibration is not
applied to NF4 scores, nor the reverse.

Here: the :class:`Calibration` type (apply, save / load, the model check), the Platt fit
(:func:`fit_platt`) and finding a model's calibration (:func:`for_model`). The ``calibrate`` workflow
(labelled pairs of a dev set, fit on its first half, ECE / Brier before and after, the reliability
diagram) is an evaluation: :mod:`rankrag_lite.evaluation.calibration`.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from rankrag_lite.errors import RankragError

FILE_NAME = "calibration.json"
EPS = 1e-7


def check_probability(value: float | None, option: str) -> float | None:
    """``value`` if it lies in [0, 1] (``None`` passes), else a one-line error naming ``option``."""
    if value is None:
        return None
    if not (0.0 <= float(value) <= 1.0) or math.isnan(float(value)):
        raise RankragError(f"{option} must be a probability in [0, 1], got {value}")
    return float(value)


def to_logit(probs, eps: float = EPS) -> np.ndarray:
    """``log p - log(1 - p)`` (clipped to [eps, 1 - eps]: float32 softmax saturates)."""
    p = np.clip(np.asarray(probs, dtype=np.float64), eps, 1 - eps)
    return np.log(p) - np.log1p(-p)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def model_fingerprint(model_dir: str | os.PathLike) -> str:
    """A short hash of the files that define a model folder's weights (adapter or full model).

    Hashes ``adapter_model.safetensors`` for a LoRA adapter, else ``config.json`` plus the names and
    sizes of the weight files (hashing gigabytes of weights on every load would be slow). A hub name
    (no folder) is its own fingerprint.
    """
    path = Path(model_dir)
    if not path.is_dir():
        return f"hub:{model_dir}"
    h = hashlib.sha256()
    adapter = path / "adapter_model.safetensors"
    if adapter.exists():
        h.update((path / "adapter_config.json").read_bytes() if (path / "adapter_config.json").exists() else b"")
        with open(adapter, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    else:
        if (path / "config.json").exists():
            h.update((path / "config.json").read_bytes())
        for w in sorted(path.glob("*.safetensors")) + sorted(path.glob("*.bin")) + sorted(path.glob("*.gguf")):
            h.update(f"{w.name}:{w.stat().st_size}".encode())
    return h.hexdigest()[:16]


@dataclass
class Calibration:
    """``p' = sigmoid(z / temperature + bias)`` with ``z`` the P(True) logit."""

    temperature: float
    bias: float
    model: str  # the --model it was fitted with (for messages)
    fingerprint: str  # model_fingerprint of the resolved model folder
    method: str = "true-false"
    claim: bool = False
    load_in_4bit: bool = False  # fitted on NF4 scores (--load-in-4bit), else on full-precision ones
    fit: dict = field(default_factory=dict)  # data, pairs, before/after metrics

    def __post_init__(self):
        if not (self.temperature > 0) or not math.isfinite(self.temperature) or not math.isfinite(self.bias):
            raise ValueError(f"temperature must be positive and finite, bias finite: {self.temperature}, {self.bias}")

    def apply(self, probs) -> list[float]:
        """Calibrated probabilities of raw P(True) scores (same order)."""
        z = to_logit(probs)
        return [float(v) for v in _sigmoid(z / self.temperature + self.bias)]

    def save(self, path: str | os.PathLike) -> Path:
        from rankrag_lite.io import write_json

        path = Path(path)
        write_json(path, {"kind": "rankrag-lite calibration", **asdict(self)})
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Calibration":
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise RankragError(f"calibration file not found: {path}") from None
        except ValueError as e:
            raise RankragError(f"{path}: not a calibration file (bad JSON: {e})") from None
        if not isinstance(data, dict) or data.get("kind") != "rankrag-lite calibration":
            raise RankragError(f"{path}: not a calibration file (no 'kind': 'rankrag-lite calibration')")
        try:
            return cls(temperature=float(data["temperature"]), bias=float(data["bias"]), model=str(data["model"]),
                       fingerprint=str(data["fingerprint"]), method=str(data.get("method", "true-false")),
                       claim=bool(data.get("claim", False)), load_in_4bit=bool(data.get("load_in_4bit", False)),
                       fit=dict(data.get("fit") or {}))
        except (KeyError, TypeError, ValueError) as e:
            raise RankragError(f"{path}: bad calibration file ({type(e).__name__}: {e})") from None

    def check_model(self, fingerprint: str, model: str, where: str | os.PathLike, method: str, claim: bool,
                    load_in_4bit: bool = False) -> None:
        """One-line error when this calibration was fitted for another model, score, prompt or precision."""
        if self.fingerprint != fingerprint:
            raise RankragError(
                f"{where}: calibration fitted for model {self.model!r} ({self.fingerprint}), not for {model!r} "
                f"({fingerprint}); rerun rankrag-lite calibrate for this model"
            )
        if self.method != method or self.claim != claim:
            raise RankragError(
                f"{where}: calibration fitted for --score {self.method}{' (claim prompt)' if self.claim else ''}, "
                f"not {method}{' (claim prompt)' if claim else ''}"
            )
        if self.load_in_4bit != load_in_4bit:
            raise RankragError(
                f"{where}: calibration fitted on {_precision(self.load_in_4bit)} scores, not "
                f"{_precision(load_in_4bit)} ones (NF4 shifts P(True)); rerun rankrag-lite calibrate"
                f"{' --load-in-4bit' if load_in_4bit else ''}"
            )


def _precision(load_in_4bit: bool) -> str:
    return "NF4 (--load-in-4bit)" if load_in_4bit else "full-precision"


def fit_platt(probs, labels, *, max_iter: int = 200) -> tuple[float, float]:
    """(temperature, bias) minimising the log-loss of ``sigmoid(z / T + b)`` on 0/1 ``labels``."""
    import torch

    z = torch.as_tensor(to_logit(probs), dtype=torch.float64)
    y = torch.as_tensor(np.asarray(labels, dtype=np.float64))
    if z.numel() != y.numel():
        raise ValueError(f"{z.numel()} scores but {y.numel()} labels")
    if z.numel() == 0 or float(y.min()) == float(y.max()):
        raise RankragError("calibration needs both relevant and non-relevant pairs in the fitting split")
    log_inv_t = torch.zeros((), dtype=torch.float64, requires_grad=True)  # 1/T = exp(.) > 0
    bias = torch.zeros((), dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([log_inv_t, bias], lr=1.0, max_iter=max_iter, line_search_fn="strong_wolfe")
    loss_fn = torch.nn.BCEWithLogitsLoss()

    def closure():
        opt.zero_grad()
        loss = loss_fn(z * log_inv_t.exp() + bias, y)
        loss.backward()
        return loss

    opt.step(closure)
    return float(1.0 / log_inv_t.detach().exp()), float(bias.detach())


# -- finding the calibration of a model ----------------------------------------------------
def model_dir(model: str | os.PathLike) -> Path | None:
    """The local folder of ``--model`` (``None`` for a hub name)."""
    from rankrag_lite.modeling.loading import resolve_model

    path = Path(resolve_model(model))
    return path if path.is_dir() else None


def default_path(model: str | os.PathLike) -> Path:
    """Where ``calibrate`` stores a model's calibration: inside its folder."""
    d = model_dir(model)
    if d is None:
        raise RankragError(f"model {model!r} is a hub name, not a folder: give calibrate --out FILE")
    return d / FILE_NAME


def for_model(model: str | os.PathLike, path: str | os.PathLike | None = None, *, method: str = "true-false",
              claim: bool = False, load_in_4bit: bool = False, auto: bool = False) -> Calibration | None:
    """The calibration to apply for ``model``: ``path`` if given (must exist and match), else the
    ``calibration.json`` beside the model when present (must match), else ``None``.

    ``auto``: the file beside the model is skipped (``None``) when it was fitted for another score
    method or prompt (the claim scorer of a QA-calibrated model), and skipped with a warning when it
    was fitted at another precision (NF4 vs full); another model is still an error."""
    from rankrag_lite.modeling.loading import resolve_model

    resolved = resolve_model(model)
    if path is None:
        d = Path(resolved)
        if not d.is_dir() or not (d / FILE_NAME).exists():
            return None
        path = d / FILE_NAME
    cal = Calibration.load(path)
    if auto and (cal.method != method or cal.claim != claim):
        return None
    if auto and cal.load_in_4bit != load_in_4bit:
        from rankrag_lite.progress import warn

        warn(f"{path} was fitted on {_precision(cal.load_in_4bit)} scores: not applied to "
             f"{_precision(load_in_4bit)} ones (raw P(True); rankrag-lite calibrate"
             f"{' --load-in-4bit' if load_in_4bit else ''} fits one)")
        return None
    cal.check_model(model_fingerprint(resolved), str(model), path, method, claim, load_in_4bit)
    return cal
