"""Typer CLI ``rankrag-lite``: thin wrappers that parse options and call the library.

Each area registers its commands from its own module; errors of type
:class:`~rankrag_lite.errors.RankragError`, OS-level errors and usage errors become one line on
stderr and exit code 2.
"""

from __future__ import annotations

import sys

import typer

app = typer.Typer(
    name="rankrag-lite",
    help="RankRAG on one GPU: build the blend, fine-tune one model to rank and answer, rerank, evaluate.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _register() -> None:
    from rankrag_lite.cli import (blend_cmd, calibrate_cmd, eval_cmd, export_cmd, infer_cmd, label_cmd,
                                  retrieval_cmd, train_cmd)

    for mod in (blend_cmd, label_cmd, retrieval_cmd, train_cmd, infer_cmd, eval_cmd, calibrate_cmd, export_cmd):
        mod.register(app)


_register()


def main(argv: list[str] | None = None) -> None:
    """The ``rankrag-lite`` command: every error is one ``error:`` line (usage errors too, exit 2),
    SIGINT / SIGTERM one line (exit 130 / 143); see :mod:`rankrag_lite.cli.common`."""
    from rankrag_lite.cli.common import run_app

    sys.exit(run_app(app, argv))


if __name__ == "__main__":  # pragma: no cover
    main()
