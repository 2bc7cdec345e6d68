"""Named sections of BENCHMARKS.md that one benchmark script regenerates on its own (``--update``)."""

from __future__ import annotations

from pathlib import Path


def markers(name: str) -> tuple[str, str]:
    return f"<!-- {name}:start -->", f"<!-- {name}:end -->"


def replace_section(path: Path, name: str, section: str) -> None:
    """Put ``section`` (which starts and ends with the markers of ``name``) in place of the old one, or append it."""
    start, end = markers(name)
    text = path.read_text() if path.is_file() else ""
    if start in text and end in text:
        text = text[:text.index(start)] + section.rstrip("\n") + text[text.index(end) + len(end):]
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.write_text(text)


def publish(section: str, name: str, out: Path | None, update: Path | None, echo: bool = True) -> None:
    """Write a benchmark's section to ``out`` and/or in place of its markers in ``update``; print it."""
    if out:
        out.write_text(section, encoding="utf-8")
    if update:
        replace_section(update, name, section)
    if echo:
        print(section)
