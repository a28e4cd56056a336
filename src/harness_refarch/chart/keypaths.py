"""Key paths of values (tuples of strings) as users write them and helm reads them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

KeyPath = tuple[str, ...]


def dotted(path: Sequence[str]) -> str:
    """A key path as users write it for ``--set`` (dots inside a key escaped as ``\\.``)."""
    return ".".join(part.replace(".", "\\.") for part in path)


def key_str(key: Any) -> str:
    """A YAML mapping key as helm sees it after its YAML-to-JSON step."""
    if isinstance(key, bool):
        return "true" if key else "false"
    if key is None:
        return "null"
    return str(key)


def string_keys(value: Any) -> Any:
    """``value`` with every mapping key (also inside lists) turned into a string, like helm."""
    if isinstance(value, dict):
        return {key_str(k): string_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [string_keys(v) for v in value]
    return value


def lookup(values: Mapping[str, Any], path: Sequence[str]) -> tuple[bool, Any]:
    """``(found, value)`` at ``path``; a missing key anywhere on the way is ``(False, None)``."""
    current: Any = values
    for part in path:
        if not isinstance(current, Mapping) or part not in current:
            return False, None
        current = current[part]
    return True, current
