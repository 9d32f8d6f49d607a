"""``python -m runic.cli``: the same as the ``runic`` console script."""

from . import main

main()
