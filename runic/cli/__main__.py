"""``python -m runic.cli``: the same as ``python -m runic`` and the ``runic`` console script."""

from . import main

if __name__ == "__main__":
    main()
