"""The tokenizer inside the GPU check's wheel bundle: packed by ``scripts/gpu_wheels.sh``, unpacked by
``scripts/gpu_check.sh``, and both done by ``tests/test_gpu_check.py`` through these same functions, so
the folder the check reads on the GPU machine and the one CI feeds it cannot drift apart.

The bundle folder holds the tokenizer's small files as they are and ``tokenizer.json`` gzipped (9 MB
-> 2 MB for Llama 3); it has no ``config.json`` (it is a tokenizer, not a model). Standard library
only: it runs on the GPU machine's own python3 before anything is installed.

Usage: python scripts/gpu_bundle.py pack SRC_TOKENIZER_DIR BUNDLE_DIR
       python scripts/gpu_bundle.py unpack BUNDLE_DIR DEST_DIR
"""

from __future__ import annotations

import gzip
import shutil
import sys
from pathlib import Path

# copied as they are when the source has them (the Llama 3 8B tokenizer has all of them; the
# licence files travel with it); tokenizer_config.json is required
SMALL_FILES = ("tokenizer_config.json", "special_tokens_map.json", "chat_template.jinja",
               "LICENSE", "NOTICE", "USE_POLICY.md")
BIG_FILE = "tokenizer.json"


def pack(src: str | Path, bundle: str | Path) -> Path:
    """Copy the tokenizer at ``src`` into ``bundle`` (made afresh), ``tokenizer.json`` gzipped."""
    src, bundle = Path(src), Path(bundle)
    for need in ("tokenizer_config.json", BIG_FILE):
        if not (src / need).is_file():
            raise SystemExit(f"error: no {need} in {src} (set TOKENIZER=)")
    if bundle.exists():
        shutil.rmtree(bundle)
    bundle.mkdir(parents=True)
    for name in SMALL_FILES:
        if (src / name).is_file():
            shutil.copyfile(src / name, bundle / name)
    with open(src / BIG_FILE, "rb") as f, gzip.GzipFile(bundle / (BIG_FILE + ".gz"), "wb", 9, mtime=0) as g:
        shutil.copyfileobj(f, g)
    return bundle


def unpack(bundle: str | Path, dest: str | Path) -> Path:
    """The tokenizer folder the check loads: ``bundle``'s files with ``tokenizer.json`` unzipped."""
    bundle, dest = Path(bundle), Path(dest)
    if not (bundle / (BIG_FILE + ".gz")).is_file():
        raise SystemExit(f"error: no {BIG_FILE}.gz in {bundle}")
    part = dest.with_name(dest.name + ".part")
    if part.exists():
        shutil.rmtree(part)
    part.mkdir(parents=True)
    for f in bundle.iterdir():
        if f.name != BIG_FILE + ".gz":
            shutil.copyfile(f, part / f.name)
    with gzip.open(bundle / (BIG_FILE + ".gz"), "rb") as g, open(part / BIG_FILE, "wb") as f:
        shutil.copyfileobj(g, f)
    if dest.exists():
        shutil.rmtree(dest)
    part.rename(dest)
    return dest


def main(argv: list[str]) -> int:
    if len(argv) != 3 or argv[0] not in ("pack", "unpack"):
        print("usage:" + __doc__.split("Usage:")[1].rstrip(), file=sys.stderr)
        return 2
    (pack if argv[0] == "pack" else unpack)(argv[1], argv[2])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
