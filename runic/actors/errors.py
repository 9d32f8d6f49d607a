"""Errors raised while starting, joining or stopping an actor system."""

from __future__ import annotations

from ..errors import RunicError

__all__ = ["ActorSystemError", "UnsafeBindAddressError", "ActorSystemStartError", "AttachError"]


class ActorSystemError(RunicError):
    """Base class of the actor-system lifecycle errors."""


class UnsafeBindAddressError(ActorSystemError, ValueError):
    """Asked to listen on a non-loopback address without ``allow_remote=True``."""


class ActorSystemStartError(ActorSystemError):
    """A new actor system could not be started (port taken, admin did not come up, ...)."""


class AttachError(ActorSystemError, LookupError):
    """No actor system answers on the given admin port."""
