"""Figures written as PNG files: one headless matplotlib axes in, one complete file out.

:func:`png_axes` is the one place report figures are made: it selects the headless ``Agg`` backend
(reports run on machines without a display), gives the caller one axes of the project's figure size,
and writes the PNG through :func:`qmixbench.recorder.atomic_write_bytes`: the image is rendered into
memory first and the file appears complete or not at all, so a report killed mid-write never leaves a
truncated PNG beside its tables. The figure is closed whether drawing succeeds or fails.

Never imports torch; matplotlib is imported on first use, so importing this module stays cheap.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from qmixbench.recorder import atomic_write_bytes

if TYPE_CHECKING:
    from matplotlib.axes import Axes

FIGSIZE = (6.4, 4.0)
"""Width and height in inches of every report figure (at :data:`DPI`: 640 x 400 pixels)."""
DPI = 100


@contextmanager
def png_axes(path: Path | str) -> Iterator[Axes]:
    """Yield one axes to draw on; on a normal exit, write the figure to ``path`` as a PNG, atomically.

    Args:
        path: the PNG file to write; its directory is created if missing.

    Yields:
        The figure's only axes. Layout is tightened after the caller has drawn (labels fit).

    If the ``with`` block raises, nothing is written and the exception propagates.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=FIGSIZE, dpi=DPI)
    try:
        yield ax
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
    finally:
        plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())
