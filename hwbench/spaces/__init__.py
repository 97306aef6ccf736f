"""Search spaces, looked up by name."""

from __future__ import annotations

from hwbench.errors import UnknownNameError
from hwbench.spaces.nb201 import NB201Space

_SPACES = {"nb201": NB201Space}


def list_spaces() -> list[str]:
    return sorted(_SPACES)


def get_space(name: str) -> NB201Space:
    """Return the search space registered as ``name``."""
    try:
        return _SPACES[name]()
    except KeyError:
        raise UnknownNameError("space", name, _SPACES) from None


__all__ = ["NB201Space", "get_space", "list_spaces"]
