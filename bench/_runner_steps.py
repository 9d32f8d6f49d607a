"""Step functions of ``bench/runner.py`` (module-level and importable, so the worker hosts can
restore them by name when a workflow is rebuilt from its events)."""


def inc(x: int) -> int:
    return x + 1
