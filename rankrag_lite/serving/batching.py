"""Concurrent requests scored together: an asyncio queue feeding one scoring thread.

Each request puts its ``(query, passages)`` on the queue and awaits a future. One collector task
takes the first waiting request, then keeps taking more for up to ``max_wait`` seconds or until
``max_passages`` passages are gathered, and hands the lot to a single worker thread, which encodes
every pair and scores them in ONE :meth:`~rankrag_lite.ranking.scorer.PTrueScorer.score_encoded`
call (length-sorted batches of the scorer's ``batch_size``, the shared prompt head cached), so a
server under load runs the same batches as the in-process scorer. Scores do not depend on which
requests share a batch (the scorer's own guarantee, up to float rounding < 1e-4). One thread owns
the model and its tokenizer: no two forwards compete for the CPU/GPU.

A request whose prompt cannot be built (``RankragError``, e.g. a query too long for the model's
``max_length``) fails alone; the others in its batch are scored.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import time
from dataclasses import dataclass, field


@dataclass
class _Job:
    query: str
    passages: list
    future: asyncio.Future
    seqs: list = field(default_factory=list)


class BatchScorer:
    """``await scores(query, passages)`` -> ``(scores, tokens)``: P(True) per passage (calibrated when the
    scorer is) and the prompt tokens they took."""

    def __init__(self, scorer, *, max_passages: int = 64, max_wait: float = 0.01):
        if max_passages < 1:
            raise ValueError("max_passages must be at least 1")
        if max_wait < 0:
            raise ValueError("max_wait must be >= 0")
        self.scorer = scorer
        self.max_passages = max_passages
        self.max_wait = max_wait
        self._queue: asyncio.Queue | None = None
        self._task: asyncio.Task | None = None
        self._thread = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="rankrag-score")
        #: batches run and passages scored since the start (``/health`` reports them)
        self.batches = 0
        self.passages = 0

    async def start(self) -> None:
        self._queue = asyncio.Queue()
        self._task = asyncio.get_running_loop().create_task(self._collect())

    async def stop(self) -> None:
        """Finish what is queued, then stop the collector and the thread."""
        if self._task is not None:
            await self._queue.join()
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
        self._thread.shutdown(wait=True)

    async def scores(self, query: str, passages: list) -> list[float]:
        if not passages:
            return [], 0
        if self._task is None:
            raise RuntimeError("BatchScorer.start() was not awaited")
        job = _Job(query, passages, asyncio.get_running_loop().create_future())
        await self._queue.put(job)
        return await job.future

    async def _collect(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            jobs = [await self._queue.get()]
            n = len(jobs[0].passages)
            deadline = time.monotonic() + self.max_wait
            while n < self.max_passages:
                try:
                    job = self._queue.get_nowait()
                except asyncio.QueueEmpty:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    await asyncio.sleep(min(left, 0.002))  # (not wait_for(get()): 3.11 can drop an item)
                    continue
                jobs.append(job)
                n += len(job.passages)
            try:
                outcome = await loop.run_in_executor(self._thread, self._run, jobs)
            except Exception as e:  # the model itself failed: every request of the batch learns why
                outcome = [e] * len(jobs)
            for job, result in zip(jobs, outcome):
                if not job.future.done():  # a client that went away cancelled its future
                    if isinstance(result, Exception):
                        job.future.set_exception(result)
                    else:
                        job.future.set_result(result)
                self._queue.task_done()

    def _run(self, jobs: list[_Job]) -> list:
        """In the scoring thread: encode each request (its own errors kept apart), score all at once."""
        from rankrag_lite.errors import RankragError

        ok, outcome = [], []
        for job in jobs:
            try:
                job.seqs = [self.scorer.encode_pair(job.query, p) for p in job.passages]
                ok.append(job)
                outcome.append(None)
            except RankragError as e:
                outcome.append(e)
        flat = [s for job in ok for s in job.seqs]
        scores = self.scorer.score_encoded(flat) if flat else []
        start = 0
        for i, job in enumerate(jobs):
            if outcome[i] is None:
                outcome[i] = (scores[start:start + len(job.seqs)], sum(len(q) for q in job.seqs))
                start += len(job.seqs)
        self.batches += 1
        self.passages += len(flat)
        return outcome
