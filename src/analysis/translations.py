"""What a report language still lacks: every reader-facing message, and which have no
translation (``analysis translations --lang zh``).

The messages are

- every literal ``tr("...")`` in ``src/analysis`` (Babel's Python extractor, keyword ``tr``);
- every Markdown cell of the notebooks (the runner translates a cell as a whole: msgid =
  its source with the surrounding whitespace stripped);
- the names of fixed lists that readers see through ``tr(name)`` (segments, stages, steps,
  metric labels), registered by their modules with :func:`analysis.i18n.fixed_names`.

A message missing from the language's PO files falls back to English in the reports; this
check lists it instead of leaving it silent. ``tr(f"...")`` is reported too: an f-string
cannot be looked up in a catalogue.
"""

from __future__ import annotations

import ast
import contextlib
import importlib
import io
import pkgutil
from dataclasses import dataclass
from pathlib import Path

from analysis import i18n
from analysis.config import NOTEBOOKS_DIR

PACKAGE_DIR = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Message:
    """A reader-facing English message and where it comes from (``file:line``)."""

    msgid: str
    where: str
    kind: str  # "tr", "markdown" or "names"

    @property
    def file(self) -> str:
        return self.where.rsplit(":", 1)[0] if self.kind != "names" else self.where


def code_messages(package: Path = PACKAGE_DIR) -> list[Message]:
    """Every literal ``tr("...")`` message of the package (Babel's extractor)."""
    from babel.messages.extract import extract_from_dir

    found = []
    with contextlib.redirect_stderr(io.StringIO()):  # f-string warnings: see fstring_calls
        for name, line, msgid, _, _ in extract_from_dir(
            str(package), method_map=[("**.py", "python")], keywords={"tr": None}
        ):
            if isinstance(msgid, str) and msgid:
                found.append(Message(msgid, f"src/analysis/{name}:{line}", "tr"))
    return found


def notebook_messages(folder: Path = NOTEBOOKS_DIR) -> list[Message]:
    """Every Markdown cell of the notebooks, as the runner looks it up, and every literal
    ``tr("...")`` of their code cells (``where`` = notebook:cell number)."""
    import nbformat
    from babel.messages.extract import extract

    found = []
    for path in sorted(folder.glob("*.ipynb")):
        nb = nbformat.read(str(path), as_version=4)
        for number, cell in enumerate(nb.cells, 1):
            where = f"notebooks/{path.name}:{number}"
            if cell.cell_type == "markdown" and cell.source.strip():
                found.append(Message(cell.source.strip(), where, "markdown"))
            elif cell.cell_type == "code" and "tr(" in cell.source:
                source = io.BytesIO(cell.source.encode("utf-8"))
                with contextlib.redirect_stderr(io.StringIO()):
                    calls = list(extract("python", source, keywords={"tr": None}))
                found.extend(Message(m, where, "tr") for _, m, _, _ in calls if isinstance(m, str))
    return found


def name_messages() -> list[Message]:
    """The fixed names every module of the package registers (it imports them all)."""
    import analysis

    for module in pkgutil.walk_packages(analysis.__path__, "analysis."):
        with contextlib.suppress(ImportError):  # an optional backend (Spark) not installed
            importlib.import_module(module.name)
    return [
        Message(name, area, "names")
        for area, names in sorted(i18n.registered_names().items())
        for name in names
    ]


def fstring_calls(package: Path = PACKAGE_DIR) -> list[str]:
    """``file:line`` of every ``tr(f"...")``: a message no catalogue can hold."""
    found = []
    for path in sorted(package.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and getattr(node.func, "id", getattr(node.func, "attr", None)) == "tr"
                and node.args
                and isinstance(node.args[0], ast.JoinedStr)
            ):
                found.append(f"src/analysis/{path.relative_to(package)}:{node.lineno}")
    return found


def all_messages() -> list[Message]:
    """Every reader-facing message: code, notebooks, fixed names (first place of each)."""
    seen: dict[str, Message] = {}
    for message in [*code_messages(), *notebook_messages(), *name_messages()]:
        seen.setdefault(message.msgid, message)
    return list(seen.values())


def untranslated(lang: str, messages: list[Message] | None = None) -> list[Message]:
    """The messages ``lang``'s catalogue lacks (they show in English)."""
    lang = i18n.language_code(lang)
    if lang == i18n.SOURCE_LANGUAGE:
        return []
    found = i18n.catalogue(lang)
    return [m for m in (all_messages() if messages is None else messages) if m.msgid not in found]


def summary(lang: str, messages: list[Message], missing: list[Message]) -> str:
    """Counts per file, then each missing message (its first line), for a terminal."""
    lines = [f"{lang}: {len(missing)} of {len(messages)} messages have no translation"]
    files: dict[str, list[Message]] = {}
    for message in missing:
        files.setdefault(message.file, []).append(message)
    for file, items in sorted(files.items()):
        lines.append(f"  {len(items):4d}  {file}")
    for file, items in sorted(files.items()):
        lines.append(f"\n{file}:")
        for m in items:
            first = m.msgid.splitlines()[0]
            more = " …" if len(first) > 90 or "\n" in m.msgid else ""
            lines.append(
                f"  {m.where.rsplit(':', 1)[-1] if m.kind != 'names' else '-':>5}  "
                f"{first[:90]}{more}"
            )
    return "\n".join(lines)


def write_po(path: Path, missing: list[Message]) -> None:
    """The missing messages as a PO file with empty translations, to fill in and merge
    into one's own catalogue."""
    from babel.messages.catalog import Catalog
    from babel.messages.pofile import write_po as babel_write_po

    catalog = Catalog(locale=None, project="customer analytics notebooks")
    for message in missing:
        catalog.add(message.msgid, "", locations=[_location(message)])
    with open(path, "wb") as handle:
        babel_write_po(handle, catalog, omit_header=False, sort_by_file=True, width=100)


def _location(message: Message) -> tuple[str, int]:
    if message.kind == "names":
        return (message.where, 0)
    file, line = message.where.rsplit(":", 1)
    return (file, int(line))
