"""Read a markdown table out of a doc, for tests that compare a doc's tables with the code or data."""

from __future__ import annotations


def cells(line: str) -> list[str]:
    """The stripped cells of one ``| a | b |`` table line."""
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def table(text: str, header_start: str) -> tuple[list[str], list[list[str]]]:
    """The one table in ``text`` whose header row starts with ``header_start``: (header cells, rows of
    cells), the ``|---|`` separator skipped."""
    lines = text.splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith(header_start)]
    assert len(starts) == 1, f"{len(starts)} tables whose header starts {header_start!r}"
    rows = []
    for line in lines[starts[0] + 2 :]:
        if not line.startswith("|"):
            break
        rows.append(cells(line))
    return cells(lines[starts[0]]), rows
