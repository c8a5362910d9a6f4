"""Shared CLI helpers: one-line errors and the rich console."""

from __future__ import annotations

import functools

import typer
from rankrag_lite.errors import RankragError
from rankrag_lite.progress import console  # noqa: F401  (re-exported for commands)


def guard(fn):
    """Turn :class:`RankragError` (and a missing file, a non-UTF-8 file) into ``error: ...`` on stderr and exit 2."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except RankragError as e:
            typer.secho(f"error: {e}", err=True, fg="red")
            raise typer.Exit(2) from None
        except FileNotFoundError as e:
            typer.secho(f"error: file not found: {e.filename or e}", err=True, fg="red")
            raise typer.Exit(2) from None
        except UnicodeDecodeError as e:  # a reader outside rankrag_lite.io (which names file and line)
            typer.secho(f"error: an input file is not UTF-8 text ({e.reason} at byte {e.start}); "
                        "re-save it as UTF-8", err=True, fg="red")
            raise typer.Exit(2) from None

    return wrapper


# -- --ray and its options: one definition, shared by rerank, evaluate and calibrate ---------------
RAY = typer.Option(None, "--ray", metavar="local|ADDRESS",
                   help="Score on Ray (needs the ray extra of rankrag-lite; docs/scale.md): 'local' starts a Ray on this machine, "
                        "HOST:PORT (or auto, ray://HOST:10001) joins a running cluster. Same outputs as without.")
RAY_ACTORS = typer.Option(1, "--ray-actors", min=1, help="With --ray: scoring actors (map_batches concurrency); "
                          "each loads the model once.")
RAY_GPUS = typer.Option(0.0, "--ray-gpus", min=0.0, help="With --ray: GPUs per actor (1: one actor per GPU).")
RAY_CPUS = typer.Option(1.0, "--ray-cpus", min=0.0, help="With --ray: CPUs per actor (on CPU clusters, the threads "
                        "each actor scores with).")
SHARD_PASSAGES = typer.Option(1024, "--shard-passages", min=1, help="Passages per shard: the unit one actor scores "
                              "and a rerun resumes from (--ray); rerank also scores locally in chunks of this size.")


def ray_options(address: str | None, actors: int, gpus: float, cpus: float):
    """The :class:`~rankrag_lite.ranking.distributed.RayOptions` of ``--ray``, or ``None`` without it."""
    if address is None:
        return None
    from rankrag_lite.ranking.distributed import RayOptions

    return RayOptions(address=address, actors=actors, num_gpus=gpus, num_cpus=cpus)
