"""The ``runic`` command line (``runic --help``; ``docs/cli.md``).

``main()`` is the console script's entry point; ``python -m runic`` and ``python -m
runic.cli`` run it too. A Ctrl-C while the command line's own modules are still being imported
ends it with the one line ``interrupted`` and exit code 130, like a Ctrl-C later on.
"""

from __future__ import annotations

import sys

__all__ = ["main"]


def main() -> None:
    """Entry point of the ``runic`` console script: run the command line and exit with its code."""
    try:
        from .app import main as run
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        sys.exit(130)
    sys.exit(run())
