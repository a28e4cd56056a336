"""Helpers for tests that stand in for programs (a fake or logging helm) and read pytest output."""

from __future__ import annotations

import re
import shlex
import stat
import sys
from pathlib import Path


def python_script(path: Path, body: str) -> Path:
    """An executable at ``path`` that runs the Python ``body`` with this interpreter.

    Not a ``#!`` line naming ``sys.executable``: the kernel splits that line at the first space
    and caps its length, so a checkout under a path with a space (or a long one) could not run
    it. A POSIX ``sh`` stub ``exec``s the interpreter (same process) on the body kept beside it.
    """
    code = path.with_name(path.name + ".py")
    code.write_text(body)
    path.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} {shlex.quote(str(code))} "$@"\n')
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


_FAILED = re.compile(r"^FAILED (.+?::\S+)", re.M)


def failed_ids(text: str) -> list[str]:
    """The node ids of the short summary's FAILED lines (a node id's path may hold spaces)."""
    return _FAILED.findall(text)
