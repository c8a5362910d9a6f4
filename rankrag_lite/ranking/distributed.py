"""P("True") scoring on a Ray cluster (``--ray local|ADDRESS`` on ``rerank``, ``evaluate``, ``calibrate``).

The driver (the process that runs the command) never loads the model. It reads the input one
record at a time, cuts the (question, passage) pairs into shards and puts each shard into Ray's
object store as one Arrow block; ``ray.data.from_arrow_refs(...).map_batches(_ShardScorer, ...)``
scores them on a pool of actors (``concurrency`` actors, each with ``num_gpus`` / ``num_cpus``), each
of which loads the model once (:class:`ScorerSpec`). The actor scores a whole shard with
:meth:`PTrueScorer.score` (same length sorting and batches as a local run of the same shard), and
the driver puts every score back at its shard and position, so the outputs are those of the local
run (``rerank``: bit for bit when the shard is the local chunk, ``--shard-passages``).

Every finished shard's scores are written at once (atomically) into a work folder beside the output
(``.OUT.ray/``, with ``run.json`` saying which run they belong to): a run that dies (Ctrl-C, a lost
driver) and is started again with the same command scores only the shards still missing. The work
folder is removed when the outputs are in place.

Failures are one line (:class:`RankragError`): a cluster that does not answer, a model an actor
cannot load, an actor that keeps dying after ``max_restarts`` restarts (Ray restarts a dead actor and
retries its shard: a killed worker costs time, not output).

Ray is the optional extra ``rankrag-lite[ray]``; nothing else in the kit imports this module's Ray
parts (``import ray`` happens inside the functions).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from rankrag_lite.errors import RankragError

LOCAL = "local"


@dataclass(frozen=True)
class RayOptions:
    """Where and how to score: ``address`` ``"local"`` starts a Ray on this machine, else the address of
    a running cluster (``HOST:PORT`` of its head, ``auto``, or ``ray://HOST:10001``)."""

    address: str = LOCAL
    actors: int = 1  # map_batches concurrency: the model is loaded once per actor
    num_gpus: float = 0.0  # per actor (1 = one actor per GPU)
    num_cpus: float = 1.0  # per actor (CPU clusters: the threads torch gets)
    max_restarts: int = 3  # restarts of a dead actor (and retries of its shard) before the run fails
    connect_timeout: float = 10.0

    def __post_init__(self):
        if self.actors < 1:
            raise RankragError(f"--ray-actors must be at least 1, got {self.actors}")
        if self.num_gpus < 0 or self.num_cpus < 0 or (self.num_gpus == 0 and self.num_cpus == 0):
            raise RankragError("--ray-gpus and --ray-cpus must be >= 0, and one of them > 0")
        if self.max_restarts < 0:
            raise RankragError(f"--ray-max-restarts must be >= 0, got {self.max_restarts}")


@dataclass(frozen=True)
class ScorerSpec:
    """What an actor loads: the arguments of ``RankRAG.from_pretrained`` and the scorer settings.

    ``calibration``: ``"auto"`` (the file beside the model), ``None`` (raw P(True)) or a
    :class:`~rankrag_lite.ranking.calibration.Calibration`; resolved on the driver (:meth:`resolved`),
    so that the driver knows whether scores are calibrated without loading the model."""

    model: str
    score: str = "true-false"
    batch_size: int = 16
    load_in_4bit: bool = False
    max_length: int = 2048
    calibration: object = "auto"

    def resolved(self) -> "ScorerSpec":
        """The spec with ``calibration="auto"`` replaced by what the scorer would apply."""
        from rankrag_lite.modeling.loading import resolve_model
        from rankrag_lite.ranking.calibration import for_model
        from rankrag_lite.ranking.scorer import check_method

        check_method(self.score)
        resolve_model(self.model)  # an unknown model: one line now, not in every actor
        if self.calibration != "auto":
            return self
        cal = for_model(self.model, method=self.score, load_in_4bit=self.load_in_4bit, auto=True)
        return ScorerSpec(**{**self.__dict__, "calibration": cal})

    def load(self):
        """The :class:`~rankrag_lite.ranking.scorer.PTrueScorer` (in an actor)."""
        from rankrag_lite.model import RankRAG
        from rankrag_lite.modeling.loading import check_max_length

        m = RankRAG.from_pretrained(self.model, load_in_4bit=self.load_in_4bit, batch_size=self.batch_size,
                                    score=self.score, calibration=self.calibration)
        return m.with_settings(max_length=check_max_length(m.model, self.max_length)).scorer

    def key(self) -> dict:
        cal = self.calibration
        return {**{k: v for k, v in self.__dict__.items() if k != "calibration"},
                "calibration": asdict(cal) if cal is not None and cal != "auto" else cal}


class _ShardScorer:
    """The ``map_batches`` callable: one model per actor; scores each shard of a batch as one call."""

    def __init__(self, spec: ScorerSpec):
        os.environ.setdefault("RANKRAG_LITE_QUIET", "1")
        self.scorer = spec.load()

    def __call__(self, batch: dict) -> dict:
        import numpy as np

        shard = np.asarray(batch["shard"])
        scores = np.zeros(len(shard), dtype=np.float64)
        for s in dict.fromkeys(shard.tolist()):
            idx = np.nonzero(shard == s)[0]
            pairs = [(str(batch["question"][i]), json.loads(batch["passage"][i])) for i in idx]
            scores[idx] = self.scorer.score(pairs)
        return {"shard": shard, "i": np.asarray(batch["i"]), "score": scores}


# -- the work folder: one file of scores per finished shard -------------------------------------
class ShardStore:
    """``work/run.json`` (what the run is) + ``work/shard-NNNNNN.json`` (a finished shard's scores).

    A folder left by another run (other input, model or settings) is cleared; one left by the same run
    is kept, and its shards are not scored again."""

    def __init__(self, work: str | os.PathLike, key: dict):
        from rankrag_lite.io import write_json

        self.work = Path(work)
        run = self.work / "run.json"
        if self.work.exists():
            try:
                same = json.loads(run.read_text(encoding="utf-8")) == key
            except (OSError, ValueError):
                same = False
            if not same:
                shutil.rmtree(self.work)
        self.work.mkdir(parents=True, exist_ok=True)
        if not run.exists():
            write_json(run, key)

    def path(self, n: int) -> Path:
        return self.work / f"shard-{n:06d}.json"

    def done(self, n: int) -> bool:
        return self.path(n).exists()

    def write(self, n: int, scores: Sequence[float]) -> None:
        from rankrag_lite.io import atomic_write

        with atomic_write(self.path(n)) as f:
            f.write(json.dumps([float(s) for s in scores]))

    def read(self, n: int) -> list[float]:
        return json.loads(self.path(n).read_text(encoding="utf-8"))

    def remove(self) -> None:
        shutil.rmtree(self.work, ignore_errors=True)


class _MemoryStore(dict):
    """A :class:`ShardStore` that keeps the scores in memory (no work folder: nothing to resume)."""

    def done(self, n: int) -> bool:
        return n in self

    def write(self, n: int, scores: Sequence[float]) -> None:
        self[n] = list(scores)

    def read(self, n: int) -> list[float]:
        return self[n]

    def remove(self) -> None:
        self.clear()


def work_dir(out: str | os.PathLike) -> Path:
    """The shards of a run writing ``out``: the hidden folder ``.NAME.ray`` beside it."""
    out = Path(out)
    return out.with_name(f".{out.name}.ray")


def file_key(path: str | os.PathLike) -> dict:
    """An input file as a run key: its path, size and modification time."""
    p = Path(path)
    st = p.stat()
    return {"path": str(p.resolve()), "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def pairs_key(pairs: Iterable[tuple[str, object]]) -> str:
    """A hash of in-memory pairs (the run key of evaluate / calibrate)."""
    h = hashlib.sha256()
    for q, p in pairs:
        h.update(json.dumps([q, p], ensure_ascii=False, sort_keys=True, default=str).encode())
    return h.hexdigest()[:16]


# -- the cluster ---------------------------------------------------------------------------------
def _check_reachable(address: str, timeout: float) -> None:
    """A cluster address that does not accept connections: one line now (``ray.init`` would wait for
    minutes)."""
    if address in (LOCAL, "auto") or address.startswith("ray://") and ":" not in address[6:]:
        return
    host, _, port = address.removeprefix("ray://").rpartition(":")
    try:
        port_n = int(port)
    except ValueError:
        raise RankragError(f"--ray {address!r}: give 'local', 'auto' or HOST:PORT of the cluster's head") from None
    try:
        with socket.create_connection((host or "127.0.0.1", port_n), timeout=timeout):
            pass
    except OSError as e:
        raise RankragError(f"cannot reach the Ray cluster at {address}: {e.strerror or e} "
                           f"(is `ray start --head` running there?)") from None


def _import_ray():
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError:
        raise RankragError("--ray needs Ray Data: pip install 'rankrag-lite[ray]'") from None
    return ray


def connect(options: RayOptions):
    """``ray.init`` on a local Ray or the cluster at ``options.address``; returns the ``ray`` module."""
    ray = _import_ray()
    if ray.is_initialized():
        return ray
    _check_reachable(options.address, options.connect_timeout)
    import logging

    try:
        ray.init(address=options.address, include_dashboard=False,
                 log_to_driver=False, logging_level=logging.ERROR, configure_logging=True)
    except (ConnectionError, RuntimeError, ValueError) as e:
        raise RankragError(f"cannot join the Ray cluster at {options.address}: {_first_line(e)}") from None
    _one_line_notices()
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False
    ctx.print_on_execution_start = False
    ctx.raise_original_map_exception = True
    return ray


def _one_line_notices() -> None:
    """Ray's notices to the driver (a task retried, an actor restarted) as one line each, not a traceback."""
    import ray._private.worker as w

    from rankrag_lite.progress import log

    def notice(data, ignore_prefix=False):
        for line in data.get("lines", [])[:1]:
            log(f"ray: {line.split(' Error: ')[0].strip()[:300]}")

    w.print_to_stdstream = notice
    try:  # Ray Data's console log (its tracebacks of a failed run): to its log file only
        from ray.data._internal import logging as data_logging

        data_logging.DEFAULT_CONFIG["handlers"]["console"]["level"] = "CRITICAL"
        data_logging.configure_logging()
    except (ImportError, AttributeError, KeyError, TypeError):
        pass


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0] if text else ''}".rstrip(": ")


def _explain(e: BaseException, options: RayOptions) -> RankragError:
    """One line for a failed Ray job: the RankragError an actor raised, else what Ray says."""
    seen = set()
    cur: BaseException | None = e
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if isinstance(cur, RankragError):
            return RankragError(f"on a Ray worker: {cur}")
        cur = getattr(cur, "cause", None) or cur.__cause__
    text = str(e)
    import re

    raised = re.findall(r"RankragError: (.+)", text)  # the one-line error of an actor, inside Ray's traceback
    if raised:
        return RankragError(f"on a Ray worker: {raised[-1].strip()}")
    if "ActorDiedError" in type(e).__name__ or "actor died" in text.lower() or "ActorDiedError" in text:
        return RankragError(f"a Ray scoring actor died more than --ray-max-restarts {options.max_restarts} "
                            f"times; the shards already scored are kept: rerun the same command to resume "
                            f"({_first_line(e)[:200]})")
    for line in text.splitlines():
        if "Error" in line and "Traceback" not in line:
            return RankragError(f"Ray scoring failed: {line.strip()[:300]}; the shards already scored are kept, "
                                f"rerun the same command to resume")
    return RankragError(f"Ray scoring failed: {_first_line(e)[:300]}")


# -- scoring -------------------------------------------------------------------------------------
@dataclass
class RayScorer:
    """Scores pairs on Ray with the model of ``spec``; duck-types the parts of
    :class:`~rankrag_lite.ranking.scorer.PTrueScorer` its callers read (``score``, ``method``,
    ``claim``, ``calibration``, ``calibrated``, ``load_in_4bit``).

    ``shard_passages``: pairs per shard (the unit of work of one actor call, and of resuming).
    ``work``: the shard folder of :meth:`score` (``None``: shards are kept in memory only)."""

    spec: ScorerSpec
    options: RayOptions = field(default_factory=RayOptions)
    shard_passages: int = 1024
    work: Path | None = None

    def __post_init__(self):
        if self.shard_passages < 1:
            raise RankragError(f"--shard-passages must be at least 1, got {self.shard_passages}")
        self.spec = self.spec.resolved()

    @property
    def method(self) -> str:
        return self.spec.score

    claim = False  # the QA ranking prompt (the claim prompt is not offered on Ray)

    @property
    def load_in_4bit(self) -> bool:
        return self.spec.load_in_4bit

    @property
    def calibration(self):
        return self.spec.calibration

    @property
    def calibrated(self) -> bool:
        return self.spec.calibration is not None

    def score(self, pairs: Sequence[tuple[str, object]], on_batch: Callable[[int], None] | None = None) -> list[float]:
        """Scores of in-memory pairs, in order (shards of ``shard_passages`` consecutive pairs)."""
        pairs = list(pairs)
        shards = [pairs[i:i + self.shard_passages] for i in range(0, len(pairs), self.shard_passages)]
        key = {"pairs": len(pairs), "hash": pairs_key(pairs)}
        store = self.score_shards(iter(shards), self.work, key, on_batch=on_batch)
        out = [s for n in range(len(shards)) for s in store.read(n)]
        store.remove()
        return out

    def score_shards(self, shards: Iterator[Sequence[tuple[str, object]]], work: Path | None, key: dict,
                     on_batch: Callable[[int], None] | None = None):
        """Score every shard not already in ``work``; returns the :class:`ShardStore` (kept in memory
        with no ``work``): ``store.read(n)`` are shard ``n``'s scores. Shards are read from ``shards``
        one at a time into the object store (which spills to disk past its memory)."""
        import pyarrow as pa

        ray = connect(self.options)  # first: a cluster that cannot be reached leaves nothing behind
        run_key = {"spec": self.spec.key(), "shard_passages": self.shard_passages, **key}
        store = ShardStore(work, run_key) if work is not None else _MemoryStore()
        refs, counts, resumed = [], {}, 0
        for n, pairs in enumerate(shards):
            if store.done(n):
                resumed += 1
                if on_batch is not None:
                    on_batch(len(pairs))
                continue
            if not pairs:  # a chunk of records without passages
                store.write(n, [])
                continue
            counts[n] = len(pairs)
            table = pa.table({"shard": pa.array([n] * len(pairs), pa.int64()),
                              "i": pa.array(range(len(pairs)), pa.int64()),
                              "question": pa.array([str(q) for q, _ in pairs], pa.string()),
                              "passage": pa.array([json.dumps(p, ensure_ascii=False) for _, p in pairs],
                                                  pa.string())})
            refs.append(ray.put(table))
        if resumed:
            from rankrag_lite.progress import log

            log(f"resuming: {resumed} shard(s) already scored in {work}, {len(counts)} to go")
        if not refs:
            return store
        import warnings

        with warnings.catch_warnings():  # max_restarts has no named parameter in Ray 2.60 (Ray's default: forever)
            warnings.simplefilter("ignore", DeprecationWarning)
            ds = ray.data.from_arrow_refs(refs).map_batches(
                _ShardScorer, batch_size=None, batch_format="numpy", fn_constructor_kwargs={"spec": self.spec},
                compute=ray.data.ActorPoolStrategy(size=self.options.actors),
                num_cpus=self.options.num_cpus or None, num_gpus=self.options.num_gpus or None,
                max_restarts=self.options.max_restarts, max_task_retries=self.options.max_restarts)
        partial: dict[int, dict[int, float]] = {}
        try:
            for batch in ds.iter_batches(batch_size=None, batch_format="numpy"):
                for s, i, score in zip(batch["shard"].tolist(), batch["i"].tolist(), batch["score"].tolist()):
                    partial.setdefault(s, {})[i] = score
                for s in {int(x) for x in batch["shard"].tolist()}:
                    if len(partial.get(s, ())) == counts[s]:
                        scores = [partial[s][i] for i in range(counts[s])]
                        del partial[s]
                        store.write(s, scores)
                        if on_batch is not None:
                            on_batch(counts[s])
        except Exception as e:  # Ray's own errors: actor died, task failed, cluster lost
            if isinstance(store, ShardStore) and not any(store.work.glob("shard-*.json")):
                store.remove()  # nothing scored: nothing to resume from
            raise e if isinstance(e, RankragError) else _explain(e, self.options) from None
        missing = [s for s in counts if not store.done(s)]
        if missing:
            raise RankragError(f"Ray returned no scores for {len(missing)} shard(s); rerun to resume")
        return store


def shutdown() -> None:
    """Disconnect from Ray (stops a local Ray this process started)."""
    import sys

    ray = sys.modules.get("ray")
    if ray is not None and ray.is_initialized():
        ray.shutdown()
