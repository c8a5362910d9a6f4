"""Typer CLI ``rankrag-lite``: thin wrappers that parse options and call the library.

Each area registers its commands from its own module; errors of type
:class:`~rankrag_lite.errors.RankragError` become one line on stderr and exit code 2.
"""

from __future__ import annotations

import sys

import typer

from rankrag_lite.errors import RankragError

app = typer.Typer(
    name="rankrag-lite",
    help="RankRAG on one GPU: build the blend, fine-tune one model to rank and answer, rerank, evaluate.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _register() -> None:
    from rankrag_lite.cli import blend_cmd, calibrate_cmd, eval_cmd, infer_cmd, retrieval_cmd, serve_cmd, train_cmd

    for mod in (blend_cmd, retrieval_cmd, train_cmd, infer_cmd, eval_cmd, calibrate_cmd, serve_cmd):
        mod.register(app)


_register()


def main(argv: list[str] | None = None) -> None:
    try:
        app(args=argv, standalone_mode=True)
    except RankragError as e:
        typer.secho(f"error: {e}", err=True, fg="red")
        sys.exit(2)


if __name__ == "__main__":  # pragma: no cover
    main()
