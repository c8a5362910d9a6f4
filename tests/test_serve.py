"""``rankrag-lite serve`` as a real process on a loopback port, called by real clients.

- the shipped adapter (calibrated), behind a bearer token from $RANKRAG_LITE_API_KEY: the ``cohere``
  SDK (ClientV2 and the v1 Client) and LangChain's ``CohereRerank`` rank like ``RankRAG.rank``;
  ``min_score`` abstains; auth is enforced;
- a plain model folder (a tiny random Llama, what ``save_pretrained`` / the kit's merge write, with
  no calibration): the limits and malformed bodies give 4xx JSON errors, and schemathesis fuzzes the
  server from its own OpenAPI schema (no 5xx, every error JSON);
- SIGTERM lets a request in flight finish, then the process exits 0 (the shipped server, last);
- ``benchmarks/serve_load.py`` at a short setting reports no errors.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="the serve extra (fastapi, uvicorn) is not installed")

import httpx  # noqa: E402

from api_passages import DOCS, QUESTION  # noqa: E402
from rankrag_lite.serving.process import ServeProcess  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
KEY = "sk-rankrag-test"
SHIPPED = "smollm2-135m-rankrag"


@pytest.fixture(scope="module")
def shipped_server():
    with ServeProcess(SHIPPED, env={"RANKRAG_LITE_API_KEY": KEY}) as server:
        yield server


@pytest.fixture(scope="module")
def plain_folder(tmp_path_factory, tiny_model_path) -> Path:
    """A plain model folder as ``save_pretrained`` (and the kit's merge) writes it: a random 1-layer
    Llama of width 32 with SmolLM2's real tokenizer (fast enough to fuzz; no calibration.json)."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    folder = tmp_path_factory.mktemp("plain-model")
    tok = AutoTokenizer.from_pretrained(tiny_model_path)
    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                      num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=4096,
                      bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id)
    LlamaForCausalLM(cfg).save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


LIMITS = {"max_documents": 4, "max_document_chars": 300, "max_query_chars": 200, "max_body_bytes": 8192}


@pytest.fixture(scope="module")
def plain_server(plain_folder):
    args = [a for k, v in LIMITS.items() for a in (f"--{k.replace('_', '-')}", str(v))]
    with ServeProcess(plain_folder, "--served-model-name", "plain", *args) as server:
        yield server


def _close(a, b, tol=1e-4):
    return abs(a - b) <= tol


@pytest.mark.slow
def test_cohere_sdk_and_langchain_rank_like_rankrag(shipped_server, shipped_rankrag):
    import cohere
    from langchain_cohere import CohereRerank
    from langchain_core.documents import Document

    expected = shipped_rankrag.rank(QUESTION, DOCS)  # calibrated scores (the adapter ships calibration.json)
    assert shipped_rankrag.scorer.calibrated

    v2 = cohere.ClientV2(KEY, base_url=shipped_server.url).rerank(model=SHIPPED, query=QUESTION, documents=DOCS,
                                                                     top_n=3)
    assert [r.index for r in v2.results] == [e["corpus_id"] for e in expected[:3]]
    assert all(_close(r.relevance_score, e["score"]) for r, e in zip(v2.results, expected))

    v1 = cohere.Client(KEY, base_url=shipped_server.url).rerank(
        model=SHIPPED, query=QUESTION, documents=[{"text": d} for d in DOCS], return_documents=True)
    assert [r.index for r in v1.results] == [e["corpus_id"] for e in expected]
    assert [r.document.text for r in v1.results] == [DOCS[e["corpus_id"]] for e in expected]
    assert all(_close(r.relevance_score, e["score"]) for r, e in zip(v1.results, expected))
    assert v1.meta.billed_units.search_units == 1 and v1.id.startswith("rerank-")

    reranker = CohereRerank(model=SHIPPED, base_url=shipped_server.url, cohere_api_key=KEY, top_n=2)
    docs = [Document(page_content=d, metadata={"i": i}) for i, d in enumerate(DOCS)]
    top = reranker.compress_documents(docs, QUESTION)
    assert [d.metadata["i"] for d in top] == [e["corpus_id"] for e in expected[:2]]
    assert all(_close(d.metadata["relevance_score"], e["score"]) for d, e in zip(top, expected))

    # vLLM's /rerank (top_n 0: all) with a {text, title} document: the title goes into the prompt as in rank()
    titled = [{"text": DOCS[0], "title": "Hamlet"}, DOCS[1]]
    r = httpx.post(shipped_server.url + "/rerank", headers={"Authorization": f"Bearer {KEY}"}, timeout=120,
                   json={"query": QUESTION, "documents": titled, "top_n": 0})
    assert r.status_code == 200, r.text
    want = shipped_rankrag.rank(QUESTION, titled)
    got = r.json()
    assert [x["index"] for x in got["results"]] == [w["corpus_id"] for w in want]
    assert all(_close(x["relevance_score"], w["score"]) for x, w in zip(got["results"], want))
    assert got["results"][[x["index"] for x in got["results"]].index(0)]["document"] == titled[0]
    assert got["usage"]["total_tokens"] > 0 and got["abstain"] is False


@pytest.mark.slow
def test_min_score_abstains_and_models_and_auth(shipped_server, shipped_rankrag):
    import cohere

    auth = {"Authorization": f"Bearer {KEY}"}
    best = shipped_rankrag.rank(QUESTION, DOCS)[0]["score"]
    url = shipped_server.url + "/v1/rerank"
    r = httpx.post(url, headers=auth, json={"query": QUESTION, "documents": DOCS, "min_score": min(1.0, best + 0.01)},
                   timeout=120).json()
    assert r["abstain"] is True and r["results"] == []
    r = httpx.post(url, headers=auth, json={"query": QUESTION, "documents": DOCS, "min_score": best - 1e-3,
                                            "return_documents": False}, timeout=120).json()
    assert r["abstain"] is False and [x["index"] for x in r["results"]] == [0] and "document" not in r["results"][0]

    models = httpx.get(shipped_server.url + "/v1/models", headers=auth).json()
    assert models["data"][0]["id"] == SHIPPED and models["data"][0]["calibrated"] is True
    assert httpx.get(shipped_server.url + "/health").json()["status"] == "ok"  # /health needs no token

    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": KEY}):
        for path in ("/v1/rerank", "/v2/rerank", "/rerank"):
            r = httpx.post(shipped_server.url + path, headers=headers, json={"query": "q", "documents": ["d"]})
            assert r.status_code == 401 and r.json()["error"]["type"] == "authentication_error"
            assert r.headers["www-authenticate"] == "Bearer"
    assert httpx.get(shipped_server.url + "/v1/models").status_code == 401
    with pytest.raises(cohere.errors.UnauthorizedError):
        cohere.ClientV2("wrong", base_url=shipped_server.url).rerank(model=SHIPPED, query="q", documents=["d"])
    r = httpx.post(url, headers=auth, json={"model": "rerank-v3.5", "query": "q", "documents": ["d"]})
    assert r.status_code == 404 and SHIPPED in r.json()["error"]["message"]


def test_limits_and_malformed_bodies(plain_server):
    url = plain_server.url + "/v1/rerank"

    def limit(body=None, **kwargs):
        r = httpx.post(url, json=body, timeout=60, **kwargs)
        assert r.status_code == 413, r.text
        err = r.json()["error"]
        assert err["type"] == "limit_exceeded" and err["limit"] in err["message"]
        assert err["max"] == LIMITS[err["limit"]]
        return err["limit"]

    assert limit({"query": "q", "documents": ["d"] * 5}) == "max_documents"
    assert limit({"query": "q", "documents": ["d", "x" * 301]}) == "max_document_chars"
    assert limit({"query": "q" * 201, "documents": ["d"]}) == "max_query_chars"
    assert limit({"query": "q", "documents": ["x" * 9000]}) == "max_body_bytes"

    def chunks():  # no Content-Length: the body is counted as it streams in
        yield b'{"query": "q", "documents": ["'
        for _ in range(20):
            yield b"x" * 500
        yield b'"]}'

    assert limit(content=chunks(), headers={"content-type": "application/json"}) == "max_body_bytes"

    ok = httpx.post(url, json={"model": "plain", "query": "q", "documents": ["a b", {"text": "c", "title": "t"}]})
    assert ok.status_code == 200 and sorted(x["index"] for x in ok.json()["results"]) == [0, 1]
    assert httpx.post(url, json={"query": "q", "documents": []}).json()["results"] == []

    for raw, ctype in ((b"{bad json", "application/json"), (b"[1, 2]", "application/json"),
                       (b'{"query": 3, "documents": ["d"]}', "application/json"),
                       (b'{"query": "q", "documents": [{"title": "no text"}]}', "application/json"),
                       (b'{"query": "q", "documents": ["d"], "top_n": -1}', "application/json"),
                       (b'{"query": "q", "documents": ["d"], "min_score": 2}', "application/json"),
                       (b'{"query": "\\ud800", "documents": ["d"]}', "application/json"),
                       (b"query=q", "application/x-www-form-urlencoded"), (b"", "application/json")):
        r = httpx.post(url, content=raw, headers={"content-type": ctype})
        assert r.status_code == 422, (raw, r.status_code, r.text)
        assert r.json()["error"]["type"] == "validation_error"
    # min_score needs a calibration, which this plain folder does not ship
    r = httpx.post(url, json={"query": "q", "documents": ["d"], "min_score": 0.5})
    assert r.status_code == 400 and "calibrat" in r.json()["error"]["message"]
    r = httpx.get(plain_server.url + "/nowhere")
    assert r.status_code == 404 and r.json()["error"]["code"] == 404
    assert httpx.get(url).status_code == 405 and "error" in httpx.get(url).json()


@pytest.mark.slow
def test_schemathesis_fuzz_from_openapi(plain_server):
    """A few hundred generated requests, valid and invalid, on every route: no 5xx, every error JSON,
    every response as the schema says."""
    import schemathesis
    from hypothesis import HealthCheck, given, settings
    from schemathesis import GenerationMode
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import (content_type_conformance, response_schema_conformance,
                                                   status_code_conformance)

    schema = schemathesis.openapi.from_url(plain_server.url + "/openapi.json")
    assert {"/v1/rerank", "/v2/rerank", "/rerank", "/health", "/v1/models"} <= set(schema.raw_schema["paths"])
    checks = [not_a_server_error, content_type_conformance, response_schema_conformance, status_code_conformance]
    seen = {"requests": 0, "errors": 0}
    session = __import__("requests").Session()

    def run(case):
        response = case.call(base_url=plain_server.url, session=session, timeout=60)
        seen["requests"] += 1
        case.validate_response(response, checks=checks)
        if response.status_code >= 400:
            seen["errors"] += 1
            body = response.json()  # every error is a JSON object naming its message
            assert isinstance(body["error"]["message"], str) and body["error"]["code"] == response.status_code

    for mode, n in ((GenerationMode.POSITIVE, 150), (GenerationMode.NEGATIVE, 150)):
        given(case=schema.as_strategy(generation_mode=mode))(
            settings(max_examples=n, deadline=None, database=None, derandomize=True,
                     suppress_health_check=list(HealthCheck))(lambda case: run(case)))()
    assert seen["requests"] >= 200 and seen["errors"] > 0, seen


@pytest.mark.slow
def test_sigterm_drains_the_request_in_flight(shipped_server):
    """Runs after the other tests of ``shipped_server`` (it ends that server): a request of 8 passages is
    in flight when SIGTERM lands; it completes with all its results, then the process exits 0."""
    docs = [f"Passage {i}: " + " ".join(["the history of the city and its river"] * 4) for i in range(8)]
    out = {}

    def call():
        out["r"] = httpx.post(shipped_server.url + "/v2/rerank", headers={"Authorization": f"Bearer {KEY}"},
                              json={"query": "Which river?", "documents": docs}, timeout=300)

    t = threading.Thread(target=call)
    t.start()
    for _ in range(600):  # bounded: 60 s
        if httpx.get(shipped_server.url + "/health").json()["in_flight"] >= 1:
            break
        time.sleep(0.1)
    else:
        pytest.fail("the request never showed in flight")
    shipped_server.proc.send_signal(signal.SIGTERM)
    assert shipped_server.proc.wait(300) == 0, shipped_server.log_tail()
    t.join(60)
    assert out["r"].status_code == 200 and len(out["r"].json()["results"]) == 8
    with pytest.raises(httpx.ConnectError):
        httpx.get(shipped_server.url + "/health")


def test_serve_cli_errors(tmp_path):
    """Bad options fail before anything loads: one error line, exit 2."""
    for args, msg in ((["--model", str(tmp_path)], "not a model folder"),
                      (["--model", SHIPPED, "--api-key", " "], "--api-key"),
                      (["--model", SHIPPED, "--log-level", "loud"], "--log-level")):
        r = subprocess.run([sys.executable, "-m", "rankrag_lite", "serve", *args], capture_output=True, text=True,
                           timeout=120)
        assert r.returncode == 2 and msg in r.stderr and r.stderr.startswith("error:"), r.stderr


@pytest.mark.slow
def test_serve_load_benchmark_short(plain_folder, tmp_path):
    out = tmp_path / "load.json"
    r = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "serve_load.py"), "--model", str(plain_folder),
                        "--clients", "4", "--duration", "3", "--json", str(out)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    res = json.loads(out.read_text())
    assert res["server"]["errors"] == 0 and res["server"]["requests"] > 0
    assert res["server"]["passages_per_s"] > 0 and res["in_process"]["passages_per_s"] > 0
    assert "x in-process" in r.stdout
