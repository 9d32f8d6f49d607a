"""runic: durable dataflow workflows (a Python port of Elixir's Runic)."""

from .errors import RunicError
from .facts import NOTHING, STRIPPED, Fact, FactRef

__all__ = ["RunicError", "Fact", "FactRef", "NOTHING", "STRIPPED"]
__version__ = "0.1.0"
