"""User-facing errors: the CLI prints these as one line and exits non-zero."""

from __future__ import annotations


class RankragError(Exception):
    """Bad input or an impossible request, explained in one line (no traceback for the user)."""


class SettingError(RankragError):
    """A setting with a value it cannot take, raised where settings are checked (a settings
    dataclass's ``__post_init__``) under the field's name (``batch_size must be >= 1, got 0``).

    Whoever knows where the value came from (a recipe key, a command-line option) re-raises it
    under that name with :meth:`named` (``finetune.stage2.batch_size must be >= 1, got 0``):
    ``message`` makes the line from the name."""

    def __init__(self, key: str, message):
        self.key, self.message = key, message
        super().__init__(message(key))

    def named(self, name: str) -> SettingError:
        return SettingError(name, self.message)
