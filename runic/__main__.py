"""``python -m runic``: the ``runic`` command line, the same program as the console script."""

from __future__ import annotations

if __name__ == "__main__":
    from runic.cli import main

    main()
