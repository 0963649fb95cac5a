"""``python -m qmixbench``: the ``qmixbench`` command."""

from qmixbench.cli import main

raise SystemExit(main())
