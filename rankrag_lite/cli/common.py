"""Shared CLI helpers: one-line errors, signals and the rich console.

Every failure a user can cause or meet is one ``error: ...`` line on stderr and exit 2: a
:class:`RankragError`, and any OS-level error (a folder where a file was expected, no permission, a
full disk, ...), named by its path and cause. ``Ctrl-C`` / ``SIGTERM`` stop a command with one line
(exit 130 / 143) after its outputs have been cleaned up (``finally`` blocks run).
"""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import sys

import typer
from rankrag_lite.errors import RankragError
from rankrag_lite.progress import console  # noqa: F401  (re-exported for commands)


class Interrupted(BaseException):
    """SIGINT or SIGTERM arrived: unwinds the command like ``KeyboardInterrupt`` (``finally`` blocks
    remove half-written outputs) without being taken for one by Typer, which would exit silently."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


#: what the running command says after an interrupt (``finetune``: how to resume); set by the command
INTERRUPT_HINT: list[str] = []


def on_interrupt(hint: str) -> None:
    """Add ``hint`` to the line printed when this command is interrupted."""
    INTERRUPT_HINT[:] = [hint]


def _raise_interrupted(signum, _frame) -> None:
    # a second signal while the first unwinds: the default action (stop now)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    raise Interrupted(signum)


def install_signal_handlers() -> None:
    """SIGINT and SIGTERM raise :class:`Interrupted` in the main thread (the CLI's entry point; from
    another thread, where Python cannot install handlers, the defaults stay)."""
    with contextlib.suppress(ValueError):
        signal.signal(signal.SIGINT, _raise_interrupted)
        signal.signal(signal.SIGTERM, _raise_interrupted)


def interrupted_line(e: Interrupted) -> str:
    name = signal.Signals(e.signum).name
    return " ".join([f"interrupted ({name}): stopped; no output was left half-written.", *INTERRUPT_HINT])


def error_line(e: BaseException) -> str | None:
    """The one line a user sees for ``e``, or ``None`` for a bug (which keeps its traceback)."""
    from rankrag_lite.io import os_error_line

    if isinstance(e, RankragError):
        return str(e)
    if isinstance(e, FileNotFoundError):
        return f"file not found: {e.filename or e}"
    if isinstance(e, OSError):  # every OS-level error on a user's path: the path and the cause
        return os_error_line(e)
    if isinstance(e, UnicodeDecodeError):  # a reader outside rankrag_lite.io (which names file and line)
        return f"an input file is not UTF-8 text ({e.reason} at byte {e.start}); re-save it as UTF-8"
    return None


#: the path options a command writes (every other path option is read)
OUTPUT_OPTIONS = ("out", "run", "scores", "plot")


def _option(name: str) -> str:
    return "--" + name.replace("_", "-")


def check_paths(options: dict, outputs=OUTPUT_OPTIONS, may_hold_output=()) -> None:
    """A command's outputs apart from its inputs and from each other: an output that is an input,
    lies inside an input folder (it would become part of the input; unless that input is named in
    ``may_hold_output``) or holds an input (the command replaces it) is refused before anything is
    read. ``options``: the command's parameters; the :class:`~pathlib.Path` ones named in ``outputs``
    are outputs, the others inputs (and so is a text option naming an existing path: ``--corpus`` takes
    a file or a hub dataset name)."""
    from pathlib import Path

    paths = {name: Path(os.path.abspath(Path(v).expanduser())) for name, v in options.items()
             if isinstance(v, Path) or (isinstance(v, str) and name not in outputs and v and os.path.exists(v))}
    outs = {n: p for n, p in paths.items() if n in outputs}
    ins = {n: p for n, p in paths.items() if n not in outputs}
    seen: dict[Path, str] = {}
    for name, out in outs.items():
        if out in seen:
            raise RankragError(f"{_option(seen[out])} and {_option(name)} are the same file ({options[name]}); "
                               "give each output its own path")
        seen[out] = name
        for iname, inp in ins.items():
            if out == inp:
                raise RankragError(f"{_option(name)} {options[name]} is also the input {_option(iname)}: write "
                                   "the output elsewhere (the input is read while the output is written)")
            if inp.is_dir() and inp in out.parents and iname not in may_hold_output:
                raise RankragError(f"{_option(name)} {options[name]} is inside the input folder {_option(iname)} "
                                   f"{options[iname]}: write it elsewhere (it would become part of the input)")
            if out in inp.parents:
                raise RankragError(f"the input {_option(iname)} {options[iname]} is inside the output "
                                   f"{_option(name)} {options[name]}, which this command replaces: write the "
                                   "output elsewhere")


def no_repeats(values, option: str) -> list:
    """``values`` of a repeatable option, each once: the same value twice is a one-line error (it
    would add the same row twice, or one would silently replace the other)."""
    values = list(values or [])
    for i, v in enumerate(values):
        if v in values[:i]:
            raise RankragError(f"{option} {v} given twice: pass each once")
    return values


def repeated_option(command, args: list[str]) -> str | None:
    """The first option of ``command`` (a click command) given twice in ``args`` that takes one
    value (click would keep the last silently), as a one-line message; ``None`` when there is none."""
    counts: dict[str, list[str]] = {}
    single = {}
    for param in command.params:
        if (getattr(param, "param_type_name", "") != "option" or getattr(param, "multiple", False)
                or getattr(param, "count", False) or getattr(param, "is_flag", False)):
            continue
        for opt in [*param.opts, *getattr(param, "secondary_opts", [])]:
            single[opt] = param.opts[0]
    for arg in args:
        if arg == "--":
            break
        name = arg.split("=", 1)[0]
        if name in single:
            counts.setdefault(single[name], []).append(arg)
    for opt, given in counts.items():
        if len(given) > 1:
            return f"{opt} given {len(given)} times: it takes one value (pass it once)"
    return None


def check_repeated_options(app, argv: list[str] | None) -> str | None:
    """:func:`repeated_option` for the subcommand ``argv`` names (``None`` if it names none)."""
    import typer.main

    args = list(sys.argv[1:] if argv is None else argv)
    commands = getattr(typer.main.get_command(app), "commands", None)
    if not args or not commands:
        return None
    command = commands.get(args[0])
    return repeated_option(command, args[1:]) if command is not None else None


def fail(line: str, code: int = 2):
    typer.secho(f"error: {line}", err=True, fg="red")
    raise typer.Exit(code)


def guard(fn=None, *, may_hold_output: tuple[str, ...] = ()):
    """Turn :class:`RankragError`, an OS-level error and a non-UTF-8 file into ``error: ...`` on
    stderr and exit 2; an interrupt into one line and exit 128 + the signal's number. Before the
    command runs, its outputs are checked against its inputs (:func:`check_paths`).

    ``@guard`` or ``@guard(may_hold_output=("adapter",))``: input folders an output may lie inside by
    design (``merge RUN`` writes ``RUN/merged``)."""
    if fn is None:
        return functools.partial(guard, may_hold_output=may_hold_output)
    outputs = _output_parameters(fn)

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            check_paths(kwargs, outputs=outputs, may_hold_output=may_hold_output)
            return fn(*args, **kwargs)
        except Interrupted as e:
            typer.secho(interrupted_line(e), err=True, fg="yellow")
            raise typer.Exit(128 + e.signum) from None
        except (RankragError, OSError, UnicodeDecodeError) as e:
            line = error_line(e)
            if line is None:  # pragma: no cover (error_line knows these types)
                raise
            fail(line)

    return wrapper


def _output_parameters(fn) -> tuple[str, ...]:
    """The parameters of command ``fn`` it writes: the options named in :data:`OUTPUT_OPTIONS` (a
    positional argument, such as ``merge RUN``, is read)."""
    import inspect

    from typer.models import ArgumentInfo

    return tuple(name for name, p in inspect.signature(fn).parameters.items()
                 if name in OUTPUT_OPTIONS and not isinstance(p.default, ArgumentInfo))


def usage_error_line(e) -> str:
    """A click usage error (a missing option, a value out of range) as one line, with where to look."""
    ctx = getattr(e, "ctx", None)
    where = f" (see {ctx.command_path} --help)" if ctx is not None else ""
    return f"{e.format_message()}{where}"


def run_app(app, argv: list[str] | None) -> int:
    """Run the Typer ``app`` as the ``rankrag-lite`` command; returns the exit code."""
    install_signal_handlers()
    repeated = check_repeated_options(app, argv)
    if repeated is not None:
        typer.secho(f"error: {repeated}", err=True, fg="red")
        return 2
    try:
        rv = app(args=argv, standalone_mode=False, prog_name="rankrag-lite")
        return rv if isinstance(rv, int) else 0
    except typer.TyperException as e:  # click's errors: a usage error, a value out of range, ...
        if type(e).__name__ != "NoArgsIsHelpError":  # (that one has printed the help already)
            typer.secho(f"error: {usage_error_line(e)}", err=True, fg="red")
        return e.exit_code
    except typer.Abort:
        return 1
    except Interrupted as e:  # outside a guarded command (while parsing, importing)
        typer.secho(interrupted_line(e), err=True, fg="yellow")
        return 128 + e.signum
    except (RankragError, OSError, UnicodeDecodeError) as e:  # outside a guarded command
        line = error_line(e)
        if line is None:  # pragma: no cover
            raise
        typer.secho(f"error: {line}", err=True, fg="red")
        return 2


# -- the scoring options every scoring command shares: one definition each (rerank, rag, evaluate, serve) ---------
SCORE = typer.Option("true-false", "--score", help="true-false: P(True) as the softmax over the True/False "
                     "logits; true-vocab: P(True) over the vocabulary.")
BATCH_SIZE = typer.Option(16, "--batch-size", min=1, help="Prompts per forward pass.")
LOAD_IN_4BIT = typer.Option(False, "--load-in-4bit", help="NF4 weights through bitsandbytes (CUDA GPU, or CPU "
                            "with bitsandbytes >= 0.49).")


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


# -- the model options of the scoring commands: one home (rerank, rag, calibrate, serve) ---------------
def scoring_options(model: str, score: str, load_in_4bit: bool, fuse: str | None, threshold: float | None,
                     threshold_option: str, calibration: Path | None):
    """The scoring options of rerank / rag checked before anything loads: (fusion, calibration)."""
    from rankrag_lite.modeling.quant import check_4bit
    from rankrag_lite.ranking.calibration import check_probability, for_model
    from rankrag_lite.ranking.fusion import parse_fuse
    from rankrag_lite.ranking.scorer import check_method

    check_method(score)
    if load_in_4bit:
        check_4bit()
    fusion = parse_fuse(fuse) if fuse is not None else None
    check_probability(threshold, threshold_option)
    cal = (for_model(model, calibration, method=score, load_in_4bit=load_in_4bit)
           if calibration is not None else "auto")
    return fusion, cal


def load_ranker(model: str, load_in_4bit: bool, **settings):
    """The model as a :class:`~rankrag_lite.RankRAG`, loaded once, saying so (rerank, answer, rag,
    calibrate, serve)."""
    from rankrag_lite.model import RankRAG
    from rankrag_lite.progress import log

    log(f"loading model {model}" + (" in 4-bit" if load_in_4bit else ""))
    return RankRAG.from_pretrained(model, load_in_4bit=load_in_4bit, **settings)
