"""What a values setting means for the architecture: whether the merged values run each database
in-cluster or external, and which layer and key decide it (a value is printed only when it is a
boolean, a number or null: other values may be secrets)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harness_refarch.chart.keypaths import KeyPath, dotted, lookup
from harness_refarch.chart.values import Merged


# -- what a values setting means for the architecture -------------------------------------------
def truthy(value: Any) -> bool:
    """Go template truth (``{{ if }}``): false, 0, "", nil and empty collections are false;
    the *string* ``"false"`` is true."""
    return value not in (None, False, 0, "") and value != [] and value != {}


@dataclass(frozen=True)
class Contradiction:
    """A merged value that contradicts what the architecture under test needs."""

    path: KeyPath
    expected: str
    actual: str
    source: str  # "my.yaml:4 global.database.mongo.installed", "" (chart default), or NOT_TRACED

    def __str__(self) -> str:
        key = dotted(self.path)
        if not self.source:
            where = "the chart's default"
        else:  # "f.yaml:4 <key>, overriding ..." -> "f.yaml:4, overriding ...": the key is said already
            place, _, rest = self.source.partition(" ")
            where = "set by " + (place + rest[len(key):] if rest.startswith(key) else self.source)
        return f"{key} is {self.actual} ({where}), but the architecture needs {self.expected}"


def _describe(found: bool, value: Any) -> str:
    """A value safe to print: booleans, numbers and null only (other values may be secrets)."""
    if not found:
        return "unset (removed by null or never set)"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return f"a {type(value).__name__} that counts as {'true' if truthy(value) else 'false'}"


def database_contradiction(merged: Merged, database: str, in_cluster: bool) -> Contradiction | None:
    """Which layer and key make ``database`` (``mongo``, ``postgres``, ``redis``,
    ``timescaledb``) external when the architecture needs it in-cluster, or the reverse.

    The chart runs a database in-cluster when ``global.database.<db>.installed`` is true in the
    Go-template sense; None when the merged values agree with ``in_cluster``. ``str()`` of the
    result reads::

        global.database.mongo.installed is false (set by my-override.yaml:4), but the
        architecture needs true (mongo in-cluster)
    """
    path: KeyPath = ("global", "database", database, "installed")
    found, value = lookup(merged.values, path)
    if truthy(value) == in_cluster:
        return None
    # A null on the way is a leaf set by a layer, so source_prefix names it too.
    source = merged.source(path) or merged.source_prefix(path)
    mode = "in-cluster" if in_cluster else "external"
    return Contradiction(path, f"{'true' if in_cluster else 'false'} ({database} {mode})",
                         _describe(found, value), source)
