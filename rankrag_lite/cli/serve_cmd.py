"""``rankrag-lite serve``: the model behind Cohere's rerank HTTP API (docs/serving.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from rankrag_lite.cli.common import BATCH_SIZE, LOAD_IN_4BIT, SCORE, guard
from rankrag_lite.serving import LOADS

API_KEY_ENV = "RANKRAG_LITE_API_KEY"


def register(app: typer.Typer) -> None:
    app.command("serve")(serve_cmd)


@guard
def serve_cmd(
    model: str = typer.Option(..., "--model", help=f"What to serve: {LOADS}."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind (loopback by default; 0.0.0.0 exposes it to the network)."),
    port: int = typer.Option(8000, "--port", min=0, max=65535, help="TCP port."),
    api_key: Optional[str] = typer.Option(None, "--api-key", envvar=API_KEY_ENV, show_envvar=True,
                                          help="Require 'Authorization: Bearer KEY' on every route but /health."),
    name: Optional[str] = typer.Option(None, "--served-model-name", help="The model's name in requests and /v1/models (default: --model as given)."),
    batch_size: int = BATCH_SIZE,
    max_batch: int = typer.Option(64, "--max-batch", min=1, help="Passages of concurrent requests merged into one scoring call."),
    max_wait_ms: float = typer.Option(5.0, "--max-wait-ms", min=0.0, help="How long the first waiting request waits for others to join its batch."),
    max_documents: int = typer.Option(1000, "--max-documents", min=1, help="Documents per request (more: 413)."),
    max_document_chars: int = typer.Option(20000, "--max-document-chars", min=1, help="Characters per document (more: 413)."),
    max_query_chars: int = typer.Option(4000, "--max-query-chars", min=1, help="Characters of the query (more: 413)."),
    max_body_bytes: int = typer.Option(4 * 1024 * 1024, "--max-body-bytes", min=1, help="Request body size in bytes (more: 413)."),
    max_length: int = typer.Option(2048, "--max-length", min=64, help="Longest prompt in tokens (longer documents are cut)."),
    score: str = SCORE,
    calibration: Optional[Path] = typer.Option(None, "--calibration", help="Calibration JSON to apply (default: calibration.json beside the model, when present)."),
    load_in_4bit: bool = LOAD_IN_4BIT,
    device: Optional[str] = typer.Option(None, "--device", help="cpu, cuda, ... (default: CUDA when there is one)."),
    log_level: str = typer.Option("info", "--log-level", help="uvicorn's log level: critical, error, warning, info, debug."),
) -> None:
    """Serve the model's P("True") ranking over HTTP: POST /v1/rerank, /v2/rerank, /rerank (Cohere, Jina, vLLM clients), GET /health, /v1/models."""
    from rankrag_lite.cli.common import load_ranker, scoring_options
    from rankrag_lite.errors import RankragError
    from rankrag_lite.modeling.loading import check_max_length
    from rankrag_lite.progress import log
    from rankrag_lite.serving.app import create_app
    from rankrag_lite.serving.limits import Limits
    from rankrag_lite.serving.server import run

    if api_key is not None and not api_key.strip():
        raise RankragError(f"--api-key (or ${API_KEY_ENV}) is empty")
    if log_level not in ("critical", "error", "warning", "info", "debug"):
        raise RankragError(f"unknown --log-level {log_level!r}")
    limits = Limits(max_documents=max_documents, max_document_chars=max_document_chars,
                    max_query_chars=max_query_chars, max_body_bytes=max_body_bytes)
    _, cal = scoring_options(model, score, load_in_4bit, None, None, "--min-score", calibration)
    m = load_ranker(model, load_in_4bit, batch_size=batch_size, score=score, calibration=cal, device=device)
    m = m.with_settings(max_length=check_max_length(m.model, max_length))
    app = create_app(m, name=name or model, limits=limits, api_key=api_key, max_batch=max_batch,
                     max_wait=max_wait_ms / 1000.0)
    where = f"http://{host}:{port}"
    log(f"serving {name or model} ({'calibrated' if m.scorer.calibrated else 'raw'} P(True)) at {where}"
        + (" (bearer token required)" if api_key else ""))
    if host not in ("127.0.0.1", "localhost", "::1") and not api_key:
        log(f"warning: {host} is reachable from other machines and no --api-key is set")
    run(app, host=host, port=port, log_level=log_level)
