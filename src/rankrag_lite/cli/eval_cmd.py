"""CLI commands (placeholder until this area lands)."""

import typer


def register(app: typer.Typer) -> None:
    pass
