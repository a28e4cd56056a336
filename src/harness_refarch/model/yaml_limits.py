"""Bounded work on hostile YAML: alias expansion, nesting depth and key count are limited.

PyYAML shares an aliased node instead of copying it, so a 700-byte file of nested aliases
(a "billion laughs") loads at once but grows without bound as soon as anything walks the
values (coalescing, tracing key paths, writing JSON). helm refuses such files ("document
contains excessive aliasing"); the suite refuses them too, before walking anything, by
measuring the composed node graph once (memoised, iterative: no recursion limit to hit).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, SequenceNode

MAX_EXPANDED_NODES = 1_000_000  # nodes after alias expansion: ~100x the largest real values file
MAX_DEPTH = 100  # nesting levels; Harness values nest at most 14 deep
MAX_KEYS = 20_000  # mapping keys in one document after alias expansion; Harness files have under 800

LIMITS_TEXT = (f"at most {MAX_EXPANDED_NODES:,} nodes after alias expansion, {MAX_DEPTH} levels of nesting "
               f"and {MAX_KEYS:,} keys")


class YamlLimitError(ValueError):
    """A YAML text beyond the limits; the message is one sentence starting with "it"."""


@dataclass(frozen=True)
class Measure:
    nodes: int
    depth: int
    keys: int


def measure(root: Node) -> Measure:
    """Size of ``root`` as a tree (aliases expanded), without expanding it.

    Raises YamlLimitError for a node that contains itself (a recursive alias). Iterative and
    memoised by node: a shared (aliased) node is measured once. Scalars, most of any values
    file, are counted where they are met instead of taking a turn on the stack (this runs on
    every values file of every subchart, in every process of a run)."""
    done: dict[int, tuple[int, int, int]] = {}  # id -> (nodes, depth, keys)
    on_path: set[int] = set()
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, finished = stack.pop()
        key = id(node)
        if finished:
            on_path.discard(key)
            value = node.value
            nodes, depth, keys = 1, 0, 0
            if isinstance(node, MappingNode):
                keys = len(value)
                kids: list[Node] = [n for pair in value for n in pair]
            else:
                kids = value
            for child in kids:
                size = done[id(child)]
                nodes += size[0]
                keys += size[2]
                if size[1] > depth:
                    depth = size[1]
            done[key] = (nodes, depth + 1, keys)
            continue
        if key in done:
            continue
        if not isinstance(node, (MappingNode, SequenceNode)):
            done[key] = (1, 1, 0)
            continue
        if key in on_path:
            raise YamlLimitError("it has a recursive alias (a node that contains itself)")
        on_path.add(key)
        stack.append((node, True))
        for child in (n for pair in node.value for n in pair) if isinstance(node, MappingNode) else node.value:
            child_key = id(child)
            if child_key in done:
                continue
            if isinstance(child, (MappingNode, SequenceNode)):
                stack.append((child, False))
            else:
                done[child_key] = (1, 1, 0)
    nodes, depth, keys = done[id(root)]
    return Measure(nodes, depth, keys)


def problem(root: Node | None) -> str | None:
    """Why ``root`` is beyond the limits, in one sentence; None when it is within them."""
    if root is None:
        return None
    size = measure(root)
    if size.nodes > MAX_EXPANDED_NODES:
        return (f"it expands to {size.nodes:,} YAML nodes through aliases (excessive aliasing; the limit is "
                f"{MAX_EXPANDED_NODES:,}, and helm refuses such files too)")
    if size.depth > MAX_DEPTH:
        return f"it nests {size.depth} levels deep (the limit is {MAX_DEPTH})"
    if size.keys > MAX_KEYS:
        return f"it has {size.keys:,} keys (the limit is {MAX_KEYS:,})"
    return None


def compose_bounded(text: str, loader: type) -> Node | None:
    """``yaml.compose`` that raises :class:`YamlLimitError` (one sentence) past the limits."""
    try:
        node = yaml.compose(text, Loader=loader)
    except RecursionError:
        raise YamlLimitError(f"it nests too deeply to read (the limit is {MAX_DEPTH} levels)") from None
    why = problem(node)
    if why:
        raise YamlLimitError(why)
    return node


def load_bounded(text: str, loader: type) -> Any:
    """``yaml.load`` (safe) within the limits; :class:`YamlLimitError` past them."""
    node = compose_bounded(text, loader)
    if node is None:
        return None
    return yaml.SafeLoader("").construct_document(node)


def check_all(text: str, loader: type) -> None:
    """Every document of a multi-document text within the limits; YamlLimitError otherwise (a
    YAMLError for text that is not YAML)."""
    try:
        for node in yaml.compose_all(text, Loader=loader):
            why = problem(node)
            if why:
                raise YamlLimitError(why)
    except RecursionError:
        raise YamlLimitError(f"it nests too deeply to read (the limit is {MAX_DEPTH} levels)") from None
