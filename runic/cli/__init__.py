"""The ``runic`` command line (``runic --help``; ``docs/cli.md``).

``main()`` is the console script's entry point; ``python -m runic.cli`` runs it too.
"""

from __future__ import annotations

import sys

__all__ = ["main"]


def main() -> None:
    """Entry point of the ``runic`` console script: run the command line and exit with its code."""
    from .app import main as run

    sys.exit(run())
