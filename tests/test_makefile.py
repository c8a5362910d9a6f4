"""The Makefile: every ``make TARGET`` the package's messages name is a target it has."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_messages_name_existing_make_targets():
    targets = set(re.findall(r"^([A-Za-z][\w-]*):", (ROOT / "Makefile").read_text(), flags=re.M))
    for path in (ROOT / "rankrag_lite").rglob("*.py"):
        for name in re.findall(r"make ([a-z][\w-]*)", path.read_text(encoding="utf-8")):
            assert name in targets, f"{path.relative_to(ROOT)} names 'make {name}', not in the Makefile"
