"""The one PNG writer of the reports: a complete file or none, figures always closed."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pytest

from qmixbench.plots import DPI, FIGSIZE, png_axes

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def test_png_axes_writes_a_complete_png_of_the_figure_size(tmp_path):
    path = tmp_path / "sub" / "fig.png"
    with png_axes(path) as ax:
        ax.plot([0, 1], [0, 1])
    data = path.read_bytes()
    assert data.startswith(PNG_SIGNATURE)
    # IHDR: width and height as big-endian 32-bit integers at bytes 16-24.
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert (width, height) == (round(FIGSIZE[0] * DPI), round(FIGSIZE[1] * DPI))
    assert [p.name for p in path.parent.iterdir()] == ["fig.png"]  # no temporary file left
    assert plt.get_fignums() == []


def test_png_axes_writes_nothing_and_keeps_the_old_file_when_drawing_fails(tmp_path):
    path = tmp_path / "fig.png"
    path.write_bytes(b"old")
    with pytest.raises(RuntimeError, match="drawing failed"):
        with png_axes(path) as ax:
            ax.plot([0, 1], [0, 1])
            raise RuntimeError("drawing failed")
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["fig.png"]
    assert plt.get_fignums() == []
