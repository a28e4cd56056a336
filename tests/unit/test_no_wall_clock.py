"""The project's tests assert behaviour; time is measured in tests/benchmarks (a timed assertion
fails on a loaded machine, as one did under the README's Quick start)."""

from __future__ import annotations

import re
from pathlib import Path

UNIT = Path(__file__).resolve().parent
CONFORMANCE = UNIT.parent / "conformance"
# a duration measured in a test and then compared: elapsed < 1.0, took <= 5, seconds < 15 ...
TIMED = re.compile(r"assert\b[^\n]*\b(elapsed|took|duration|seconds|wall)\b[^\n]*[<>]=?\s*\d")
CLOCKED = re.compile(r"(\w+)\s*=\s*time\.(?:perf_counter|monotonic|time)\(\)\s*-\s*\w+")


def offending(text: str) -> list[str]:
    clocked = set(CLOCKED.findall(text))
    lines = [line.strip() for line in text.splitlines() if TIMED.search(line)]
    lines += [line.strip() for line in text.splitlines()
              if line.strip().startswith("assert") and any(re.search(rf"\b{re.escape(n)}\b", line) for n in clocked)]
    return lines


def test_the_detector_finds_a_timed_assertion() -> None:
    text = "start = time.perf_counter()\nrun()\nspent = time.perf_counter() - start\nassert spent < 1.0\n"
    assert offending(text) == ["assert spent < 1.0"]
    assert offending("assert elapsed < 15\n") == ["assert elapsed < 15"]
    assert offending("deadline = time.monotonic() + 5\nassert marker.exists()\n") == []


def test_no_test_asserts_on_wall_clock_time() -> None:
    found = {str(path.relative_to(UNIT.parent)): hits for path in [*UNIT.rglob("*.py"), *CONFORMANCE.rglob("*.py")]
             if path.name != "test_no_wall_clock.py" and (hits := offending(path.read_text(encoding="utf-8")))}
    assert found == {}, f"timed assertions belong in tests/benchmarks: {found}"
