"""One benchmark's section of RESULTS.md, replaced in place between its markers."""

from __future__ import annotations

from pathlib import Path


def replace_section(path: Path, begin: str, end: str, block: str) -> None:
    """Write ``block`` (which starts with ``begin`` and ends with ``end``) over the text
    between those markers in ``path``, or append it when the file has no such section."""
    text = path.read_text() if path.exists() else ""
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        text = head + block + rest.split(end, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    path.write_text(text)
