"""Search spaces, looked up by name."""

from __future__ import annotations

from hwbench.errors import UnknownNameError
from hwbench.spaces.nb201 import NB201Space

_SPACES = {"nb201": NB201Space}


def list_spaces() -> list[str]:
    return sorted(_SPACES)


def get_space(name: str) -> NB201Space:
    """Return the search space registered as ``name``."""
    if isinstance(name, str) and name.startswith("compress:"):  # compression spaces: compress:<space>:<base>
        from hwbench.compress.tasks import get_search_space

        return get_search_space(name)  # type: ignore[return-value]
    try:
        return _SPACES[name]()
    except KeyError:
        raise UnknownNameError("space", name, _SPACES) from None


__all__ = ["NB201Space", "get_space", "list_spaces"]
