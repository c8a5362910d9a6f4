"""The FastAPI app: Cohere's rerank API (v1 and v2, also what Jina's and vLLM's servers take).

Request (read from the ``cohere`` SDK's ``v1/rerank`` / ``v2/rerank`` calls and vLLM's
``RerankRequest``): ``model`` (optional; the served name), ``query``, ``documents`` (strings, or
``{"text"[, "title"]}`` objects), ``top_n`` (``None`` or 0: all), ``return_documents`` (default true,
as vLLM and Jina answer), and ``min_score`` (ours: a calibrated probability; the documents below it
are dropped and ``abstain`` is true when none is left). The clients' other fields (``rank_fields``,
``max_tokens_per_doc``, ``max_chunks_per_doc``, ``priority``, ``truncate_prompt_tokens``) are
accepted and ignored: a document is cut to the model's ``--max-length`` tokens, as in ``rerank``.

Response: ``{"id", "model", "results": [{"index", "relevance_score"[, "document": {"text"}]}],
"meta": {"api_version", "billed_units", "tokens"}, "usage": {"total_tokens"}, "abstain"}``, best first
(ties keep the input order, as :meth:`RankRAG.rank`). ``relevance_score`` is what
:meth:`RankRAG.score_passages` returns: the calibrated P(True) when the model ships a
``calibration.json`` (or ``--calibration`` names one), else P(True).

Errors are JSON (:mod:`~rankrag_lite.serving.limits`): 400 bad request, 401 missing/wrong bearer
token, 404 unknown model or path, 413 a limit, 422 a malformed body; 5xx only if the model fails.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import time
import uuid
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator
from starlette.exceptions import HTTPException as StarletteHTTPException

from rankrag_lite.errors import RankragError
from rankrag_lite.serving.batching import BatchScorer
from rankrag_lite.serving.limits import BodySizeLimit, Limits, ServeError, check_request, error_body


def _utf8(value):
    """Strings must be encodable text (JSON allows lone surrogates such as ``"\\ud800"``; a tokenizer does not)."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("the string is not valid Unicode text (a lone surrogate)") from None
    return value


class Document(BaseModel):
    """A document as an object: its ``text`` (and an optional ``title``, put on the passage's first line)."""

    text: str
    title: str | None = None

    _check = field_validator("text", "title")(_utf8)


class RerankRequest(BaseModel):
    model: str | None = Field(None, description="The served model's name (GET /v1/models); optional.")
    query: str = Field(description="The search query.")
    documents: list[str | Document] = Field(description="Texts, or {text[, title]} objects, to rank for the query.")
    top_n: int | None = Field(None, ge=0, description="Return the best N (null or 0: all).")
    return_documents: bool | None = Field(None, description="Include each document in its result (default true).")
    min_score: float | None = Field(
        None, ge=0.0, le=1.0, allow_inf_nan=False,
        description="Keep only documents whose calibrated P(relevant) reaches this probability; `abstain` is "
                    "true when none does. Needs a calibrated model.")
    # other clients' fields, accepted and ignored (documents are cut to the server's --max-length tokens)
    rank_fields: list[str] | None = Field(None, description="Cohere v1; ignored (the `text` and `title` are ranked).")
    max_tokens_per_doc: int | None = Field(None, description="Cohere v2; ignored (the server's --max-length applies).")
    max_chunks_per_doc: int | None = Field(None, description="Cohere v1; ignored.")
    priority: int | None = Field(None, description="Cohere v2 / vLLM; ignored.")
    truncate_prompt_tokens: int | None = Field(None, description="vLLM; ignored.")

    _check_query = field_validator("query", "model")(_utf8)

    @field_validator("documents")
    @classmethod
    def _check_documents(cls, docs):
        for d in docs:
            _utf8(d)
        return docs


class ResultDocument(BaseModel):
    text: str
    title: str | None = None


class RerankResult(BaseModel):
    index: int
    relevance_score: float
    document: ResultDocument | None = None


class Usage(BaseModel):
    total_tokens: int


class ApiVersion(BaseModel):
    version: str


class BilledUnits(BaseModel):
    search_units: int


class Tokens(BaseModel):
    input_tokens: int


class Meta(BaseModel):
    api_version: ApiVersion
    billed_units: BilledUnits
    tokens: Tokens


class RerankResponse(BaseModel):
    id: str
    model: str
    results: list[RerankResult]
    meta: Meta
    usage: Usage
    abstain: bool = Field(description="true when min_score was given and no document reaches it.")


class ErrorInfo(BaseModel):
    model_config = ConfigDict(extra="allow")
    message: str
    type: str
    code: int


class ErrorResponse(BaseModel):
    error: ErrorInfo


class ModelCard(BaseModel):
    id: str
    object: str = "model"
    created: int
    owned_by: str = "rankrag-lite"
    source: str
    score: str
    calibrated: bool


class ModelList(BaseModel):
    object: str = "list"
    data: list[ModelCard]


class Health(BaseModel):
    status: str
    model: str
    calibrated: bool
    in_flight: int
    batches: int
    passages: int


ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResponse, "description": what}
    for code, what in ((400, "Bad request"), (401, "Missing or wrong bearer token"),
                       (404, "Unknown model"), (413, "A limit is exceeded"), (422, "Malformed body"))
}


def create_app(rankrag, *, name: str, limits: Limits | None = None, api_key: str | None = None,
               max_batch: int = 64, max_wait: float = 0.01) -> FastAPI:
    """The app serving ``rankrag`` (a loaded :class:`~rankrag_lite.RankRAG`) under ``name``."""
    from rankrag_lite.ranking.rerank import check_min_score

    limits = limits or Limits()
    batcher = BatchScorer(rankrag.scorer, max_passages=max_batch, max_wait=max_wait)
    started = int(time.time())
    state = {"in_flight": 0}

    @contextlib.asynccontextmanager
    async def lifespan(app):
        await batcher.start()
        yield
        await batcher.stop()  # uvicorn has drained the requests in flight by now

    app = FastAPI(title="rankrag-lite rerank server", version="1",
                  description="RankRAG P(True) reranking behind Cohere's rerank API (v1/v2, also Jina's and vLLM's).",
                  lifespan=lifespan)
    app.add_middleware(BodySizeLimit, max_bytes=limits.max_body_bytes)

    async def authorize(request: Request) -> None:
        if api_key is None:
            return
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not secrets.compare_digest(token.strip().encode(), api_key.encode()):
            raise ServeError(401, "missing or wrong API key: send the header 'Authorization: Bearer <key>'",
                             type="authentication_error")

    @app.exception_handler(ServeError)
    async def _serve_error(request, exc: ServeError):
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return JSONResponse(error_body(exc.status, exc.message, exc.type, **exc.extra), exc.status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request, exc: RequestValidationError):
        details = [{"loc": [str(x) for x in e.get("loc", ())], "msg": str(e.get("msg", "")),
                    "type": str(e.get("type", ""))} for e in exc.errors()]
        first = details[0] if details else {"loc": [], "msg": "invalid request"}
        message = f"malformed request: {'.'.join(first['loc'])}: {first['msg']}"
        return JSONResponse(error_body(422, message, "validation_error", details=details[:20]), 422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request, exc: StarletteHTTPException):
        return JSONResponse(error_body(exc.status_code, str(exc.detail)), exc.status_code,
                            headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _crash(request, exc: Exception):
        logging.getLogger("rankrag_lite.serving").error("internal error on %s", request.url.path, exc_info=exc)
        return JSONResponse(error_body(500, f"internal error: {type(exc).__name__}", "server_error"), 500)

    async def rerank(body: RerankRequest) -> RerankResponse:
        if body.model is not None and body.model != name:
            raise ServeError(404, f"model {body.model!r} is not served here; this server serves {name!r}",
                             type="model_not_found")
        texts = [d if isinstance(d, str) else d.text for d in body.documents]
        check_request(limits, body.query, texts)
        try:
            min_score = check_min_score(rankrag.scorer, body.min_score, "min_score")
        except RankragError as e:
            raise ServeError(400, str(e)) from None
        passages = [d if isinstance(d, str) else {"text": d.text, "title": d.title or ""} for d in body.documents]
        state["in_flight"] += 1
        try:
            scores, tokens = await batcher.scores(body.query, passages)
        except RankragError as e:
            raise ServeError(400, str(e)) from None
        finally:
            state["in_flight"] -= 1
        order = sorted(range(len(scores)), key=lambda i: -scores[i])  # stable: ties keep the input order
        if min_score is not None:
            order = [i for i in order if scores[i] >= min_score]
        order = order[:body.top_n or None]
        with_docs = body.return_documents is not False
        results = []
        for i in order:
            doc = body.documents[i]
            results.append(RerankResult(index=i, relevance_score=scores[i], document=(
                (ResultDocument(text=doc) if isinstance(doc, str) else ResultDocument(text=doc.text, title=doc.title))
                if with_docs else None)))
        return RerankResponse(
            id=f"rerank-{uuid.uuid4().hex}", model=name, results=results,
            meta=Meta(api_version=ApiVersion(version="2"), billed_units=BilledUnits(search_units=1),
                      tokens=Tokens(input_tokens=tokens)),
            usage=Usage(total_tokens=tokens), abstain=min_score is not None and not results)

    for path, summary in (("/v1/rerank", "Rerank (Cohere v1 / Jina)"), ("/v2/rerank", "Rerank (Cohere v2)"),
                          ("/rerank", "Rerank (vLLM)")):
        app.post(path, response_model=RerankResponse, response_model_exclude_none=True, responses=ERRORS,
                 summary=summary, dependencies=[Depends(authorize)], operation_id=f"rerank_{path.strip('/').replace('/', '_')}")(rerank)

    @app.get("/v1/models", response_model=ModelList, responses={401: ERRORS[401]}, dependencies=[Depends(authorize)])
    async def models() -> ModelList:
        return ModelList(data=[ModelCard(id=name, created=started, source=str(rankrag.name),
                                         score=rankrag.score_method, calibrated=rankrag.scorer.calibrated)])

    @app.get("/health", response_model=Health)
    async def health() -> Health:
        return Health(status="ok", model=name, calibrated=rankrag.scorer.calibrated, in_flight=state["in_flight"],
                      batches=batcher.batches, passages=batcher.passages)

    return app
