"""Copies of values trees (parsed YAML or JSON: mappings, lists and scalars).

``copy.deepcopy`` keeps a memo of every node and dispatches on its type through a table; for
plain data neither is needed (scalars are immutable, and a values tree that a YAML alias made
share a node is copied twice, which is what helm does too). Merging values copies the chart's
defaults for every values stack, so this is on every run's path.
"""

from __future__ import annotations

import copy
import datetime
from typing import TypeVar

T = TypeVar("T")

_ATOMIC = frozenset({str, int, float, bool, type(None), bytes, datetime.date, datetime.datetime})


def copy_tree(node: T) -> T:
    """A deep copy of ``node``: dicts and lists are new, scalars shared; anything else (a YAML
    ``!!set``) through ``copy.deepcopy``."""
    cls = type(node)
    if cls is dict:
        return {k: copy_tree(v) for k, v in node.items()}  # type: ignore[attr-defined,return-value]
    if cls is list:
        return [copy_tree(v) for v in node]  # type: ignore[attr-defined,return-value]
    if cls in _ATOMIC:
        return node
    return copy.deepcopy(node)
