"""Request limits of the rerank server and the one JSON error shape every failure returns.

Every error is ``{"error": {"message", "type", "code"[, "limit", "max"]}}`` (the shape of vLLM's and
OpenAI's servers): a limit names itself in ``limit`` and its value in ``max``. A body over
``max_body_bytes`` is refused by :class:`BodySizeLimit` before it is parsed (413); too many documents,
a too long document or query are 413 too, raised by :func:`check_request`.
"""

from __future__ import annotations

from dataclasses import dataclass

from rankrag_lite.errors import RankragError


@dataclass(frozen=True)
class Limits:
    """What one request may hold (each ``>= 1``)."""

    max_documents: int = 1000
    max_document_chars: int = 20_000
    max_query_chars: int = 4_000
    max_body_bytes: int = 4 * 1024 * 1024

    def __post_init__(self):
        for name, value in vars(self).items():
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise RankragError(f"--{name.replace('_', '-')} must be a positive integer, got {value!r}")


class ServeError(Exception):
    """A request the server refuses: becomes :func:`error_body` with ``status``."""

    def __init__(self, status: int, message: str, type: str = "invalid_request_error", **extra):
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.extra = extra


def error_body(status: int, message: str, type: str = "invalid_request_error", **extra) -> dict:
    return {"error": {"message": message, "type": type, "code": status, **extra}}


def limit_error(limit: str, maximum: int, message: str) -> ServeError:
    return ServeError(413, f"{message} (limit {limit}={maximum}; the server's --{limit.replace('_', '-')})",
                      type="limit_exceeded", limit=limit, max=maximum)


def check_request(limits: Limits, query: str, texts: list[str]) -> None:
    """Raise the :class:`ServeError` of the first limit that ``query`` and the documents' ``texts`` break."""
    if len(texts) > limits.max_documents:
        raise limit_error("max_documents", limits.max_documents, f"{len(texts)} documents in one request")
    if len(query) > limits.max_query_chars:
        raise limit_error("max_query_chars", limits.max_query_chars, f"the query has {len(query)} characters")
    for i, text in enumerate(texts):
        if len(text) > limits.max_document_chars:
            raise limit_error("max_document_chars", limits.max_document_chars,
                              f"documents[{i}] has {len(text)} characters")


class BodySizeLimit:
    """ASGI middleware: a request body over ``max_bytes`` gets a 413 JSON error before any parsing
    (by its Content-Length, or counted as it streams in when there is none)."""

    def __init__(self, app, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def _refuse(self, send) -> None:
        import json

        body = json.dumps(error_body(413, f"the request body is larger than {self.max_bytes} bytes "
                                          "(limit max_body_bytes; the server's --max-body-bytes)",
                                     type="limit_exceeded", limit="max_body_bytes", max=self.max_bytes)).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None:
            try:
                too_big = int(length) > self.max_bytes
            except ValueError:
                too_big = False  # uvicorn refuses a malformed Content-Length itself
            if too_big:
                return await self._refuse(send)
            return await self.app(scope, receive, send)
        # no Content-Length (chunked): read it all here, up to the limit, then hand it on
        messages, size = [], 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            size += len(message.get("body", b""))
            if size > self.max_bytes:
                return await self._refuse(send)
            if not message.get("more_body", False):
                break

        async def replay():
            return messages.pop(0) if messages else await receive()

        return await self.app(scope, replay, send)
