"""The base class of every error qmixbench raises on purpose.

``except qmixbench.QmixbenchError`` catches a bad config, suite, grid, results directory, reference or
published-numbers file, env that breaks the adapter's contract, a hung or diverged run, and the
CLI's usage errors, without also catching a bug (a ``TypeError`` from inside qmixbench, say). Each
error also keeps its built-in base (``ValueError`` for bad input, ``RuntimeError`` for a run that
went wrong, ``FloatingPointError`` for divergence), so code written against those still works.
Torch-free: importing it imports nothing else.
"""

from __future__ import annotations


class QmixbenchError(Exception):
    """Base of qmixbench's own errors; each subclass's message says what is wrong and what is valid."""
