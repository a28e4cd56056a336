"""Conformance tests bound from the check registry: one line per test in ``tests/conformance``.

``test_velero_backup = conformance_test("velero_backup")`` makes the test of a registered check:
its markers (``refarch(...)``, ``refarch_needs(...)``, ``refarch_once_per_architecture``) come
from the registration, so ``-k``/``-m``, the matrix and the order of helm jobs follow it, and its
body hands the registration to ``assert_conformant``. :func:`custom_tests` binds every check
registered outside the suite (entry points, ``--refarch-checks``) in one generated module.

The function carries nothing else in its ``__dict__`` (pytest matches ``-k`` against those
names too): the ids and keywords are those of a hand-written test with the same markers.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import pytest

from harness_refarch.checks.registry import REGISTRY, Check
from harness_refarch.model.catalog import Pair

Test = Callable[..., None]


def _pair_test(check: Check) -> Test:
    def test(refarch_pair: Pair, assert_conformant: Callable[..., None]) -> None:
        assert_conformant(check)
    return test


def _workload_test(check: Check) -> Test:
    def test(refarch_pair: Pair, refarch_workload: str, assert_conformant: Callable[..., None]) -> None:
        assert_conformant(check)
    return test


def make_test(check: Check, module: str) -> Test:
    """The test function of ``check``, as if written in ``module`` with the markers it implies."""
    test = (_workload_test if check.per_workload else _pair_test)(check)
    test.__name__ = test.__qualname__ = check.test
    test.__module__ = module  # pytest may collect only the functions a module defines
    test.__doc__ = check.doc or None
    marks: list[Any] = []
    if check.needs:
        marks.append(pytest.mark.refarch_needs(*check.needs))
    if check.once_per_architecture:
        marks.append(pytest.mark.refarch_once_per_architecture)
    where = check.marker_where()
    if where:
        marks.append(pytest.mark.refarch(**where))
    for mark in marks:
        test = mark(test)
    return test


def _caller() -> str:
    return str(sys._getframe(2).f_globals.get("__name__", __name__))


def conformance_test(check_id: str) -> Test:
    """The test of the registered check ``check_id``, for a module of tests/conformance."""
    return make_test(REGISTRY.get(check_id), _caller())


def custom_tests() -> dict[str, Test]:
    """``test_<id>`` of every check registered outside the suite, in registration order."""
    module = _caller()
    return {check.test: make_test(check, module) for check in REGISTRY.custom()}
