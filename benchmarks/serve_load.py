"""Load on ``rankrag-lite serve``: N concurrent clients for a fixed time, against the in-process scorer.

In one run, on the same (query, passage) pairs (the TREC DL19 BM25 top-20 fixture, passages cut to
``--max-chars``):

- ``server``: the server started as a real process on a free loopback port; ``--clients`` asyncio
  clients (httpx, one connection each) post ``/v1/rerank`` requests of ``--docs`` passages back to
  back for ``--duration`` seconds: requests/s, passages/s, p50 / p99 latency, errors (non-200);
- ``in-process``: the same model loaded here, the same pairs scored by ``RankRAG.scorer.score`` (one
  call per round of all pairs, the scorer's own batching) for a quarter of the duration before the
  server starts and again after it has exited: passages/s, the mean of the two (on a shared machine
  the other jobs' load drifts between phases).

Prints the server's passages/s as a ratio of the in-process one (target: >= 0.8x with 16 clients).

    python benchmarks/serve_load.py [--model smollm2-135m-rankrag --clients 16 --duration 20] [--json OUT]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from pathlib import Path

FIXTURE = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "inference" / "dl19_bm25_top20.json"


def requests_from_fixture(docs: int, max_chars: int) -> list[dict]:
    """Rerank requests: each DL19 query's top-20 BM25 passages in chunks of ``docs``."""
    out = []
    for rec in json.loads(FIXTURE.read_text()):
        texts = [h["content"][:max_chars] for h in rec["hits"]]
        for i in range(0, len(texts), docs):
            out.append({"query": rec["query"], "documents": texts[i:i + docs]})
    return out


async def _client(url: str, bodies: list[dict], start: int, stop_at: float, stats: dict, timeout: float) -> None:
    import httpx

    async with httpx.AsyncClient(timeout=timeout, limits=httpx.Limits(max_connections=1)) as client:
        i = start
        while time.perf_counter() < stop_at:
            body = bodies[i % len(bodies)]
            i += 1
            t0 = time.perf_counter()
            try:
                r = await client.post(url, json=body)
                ok = r.status_code == 200 and len(r.json()["results"]) == len(body["documents"])
            except httpx.TimeoutException:
                stats["timeouts"] += 1
                ok = False
            except httpx.TransportError:  # a refused / reset connection is an error of the run
                ok = False
            dt = time.perf_counter() - t0
            if ok:
                stats["latencies"].append(dt)
                stats["passages"] += len(body["documents"])
            else:
                stats["errors"] += 1


async def load(url: str, bodies: list[dict], clients: int, duration: float, timeout: float = 600.0) -> dict:
    stats = {"latencies": [], "passages": 0, "errors": 0, "timeouts": 0}
    t0 = time.perf_counter()
    await asyncio.gather(*(_client(url, bodies, k, t0 + duration, stats, timeout) for k in range(clients)))
    wall = time.perf_counter() - t0
    lat = sorted(stats["latencies"])
    pct = (lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] * 1000) if lat else (lambda q: float("nan"))
    return {"clients": clients, "seconds": wall, "requests": len(lat), "errors": stats["errors"],
            "timeouts": stats["timeouts"],
            "requests_per_s": len(lat) / wall, "passages_per_s": stats["passages"] / wall,
            "p50_ms": pct(0.50), "p99_ms": pct(0.99), "mean_ms": statistics.fmean(lat) * 1000 if lat else float("nan")}


def load_in_process(model: str, batch_size: int):
    from rankrag_lite import RankRAG

    return RankRAG.from_pretrained(model, batch_size=batch_size)


def in_process(m, bodies: list[dict], seconds: float) -> dict:
    pairs = [(b["query"], d) for b in bodies for d in b["documents"]]
    m.scorer.score(pairs[:m.batch_size])  # warm-up (the shared prompt head's cache)
    n, t0 = 0, time.perf_counter()
    while n == 0 or time.perf_counter() - t0 < seconds:
        m.scorer.score(pairs)
        n += len(pairs)
    wall = time.perf_counter() - t0
    return {"passages": n, "seconds": wall, "passages_per_s": n / wall, "calibrated": m.scorer.calibrated}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="smollm2-135m-rankrag", help="What rankrag-lite serve --model takes.")
    ap.add_argument("--clients", type=int, default=16, help="Concurrent clients.")
    ap.add_argument("--duration", type=float, default=20.0, help="Seconds of load (and about as long in-process).")
    ap.add_argument("--docs", type=int, default=10, help="Passages per request.")
    ap.add_argument("--max-chars", type=int, default=400, help="Passages cut to this many characters.")
    ap.add_argument("--batch-size", type=int, default=16, help="Prompts per forward pass (server and in-process).")
    ap.add_argument("--max-batch", type=int, default=64, help="The server's --max-batch.")
    ap.add_argument("--max-wait-ms", type=float, default=5.0, help="The server's --max-wait-ms.")
    ap.add_argument("--timeout", type=float, default=600.0, help="A client's timeout per request (counted as an error).")
    ap.add_argument("--json", type=Path, default=None, help="Write the results here as JSON.")
    args = ap.parse_args()
    if not (args.clients >= 1 and 0 < args.duration <= 600 and args.docs >= 1):
        ap.error("--clients >= 1, 0 < --duration <= 600 and --docs >= 1")

    from rankrag_lite.serving.process import ServeProcess

    bodies = requests_from_fixture(args.docs, args.max_chars)
    # the in-process scorer runs before and after the server (the mean is the baseline): on a shared
    # machine the other jobs' load drifts, and one phase alone would carry all of that drift
    m = load_in_process(args.model, args.batch_size)
    before = in_process(m, bodies, max(1.0, args.duration / 4))
    server = ServeProcess(args.model, "--batch-size", str(args.batch_size), "--max-batch", str(args.max_batch),
                          "--max-wait-ms", str(args.max_wait_ms))
    with server:
        asyncio.run(load(server.url + "/v1/rerank", bodies[:1], 1, 0.01))  # warm-up request
        served = asyncio.run(load(server.url + "/v1/rerank", bodies, args.clients, args.duration, args.timeout))
        health = json.loads(__import__("urllib.request").request.urlopen(server.url + "/health").read())
        served["batches"] = health["batches"]
        served["passages_per_batch"] = health["passages"] / max(1, health["batches"])
    after = in_process(m, bodies, max(1.0, args.duration / 4))
    local = {"passages": before["passages"] + after["passages"], "seconds": before["seconds"] + after["seconds"],
             "passages_per_s": (before["passages_per_s"] + after["passages_per_s"]) / 2,
             "before_per_s": before["passages_per_s"], "after_per_s": after["passages_per_s"],
             "calibrated": after["calibrated"]}
    ratio = served["passages_per_s"] / local["passages_per_s"]
    print(f"model {args.model}: {len(bodies)} requests of <= {args.docs} passages (<= {args.max_chars} chars), "
          f"batch size {args.batch_size}, server --max-batch {args.max_batch} --max-wait-ms {args.max_wait_ms}")
    print(f"server     {served['clients']} clients {served['seconds']:.1f} s: {served['requests_per_s']:.2f} req/s, "
          f"{served['passages_per_s']:.2f} passages/s, p50 {served['p50_ms']:.0f} ms, p99 {served['p99_ms']:.0f} ms, "
          f"{served['errors']} errors ({served['timeouts']} timeouts), {served['passages_per_batch']:.1f} passages per scoring call")
    print(f"in-process {local['seconds']:.1f} s: {local['passages_per_s']:.2f} passages/s (mean of "
          f"{local['before_per_s']:.2f} before and {local['after_per_s']:.2f} after the server)")
    print(f"server / in-process passages/s: {ratio:.2f}x in-process")
    if args.json:
        args.json.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()}, "server": served,
                                         "in_process": local, "ratio": ratio}, indent=2))


if __name__ == "__main__":
    main()
