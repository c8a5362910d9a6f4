"""User-facing errors: the CLI prints these as one line and exits non-zero."""


class RankragError(Exception):
    """Bad input or an impossible request, explained in one line (no traceback for the user)."""
