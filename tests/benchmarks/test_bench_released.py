"""Whole-run benchmarks on the released Harness chart (issue 17), in one run of this module.

``pytest tests/benchmarks/test_bench_released.py --benchmark-only`` measures, on
``../shared/reference/released-chart/harness`` (or ``$REFARCH_RELEASED_CHART``; skipped with
the reason when absent), each once (a full cold run takes minutes):

- **cold**: the full matrix with a fresh ``HARNESS_REFARCH_CACHE``;
- **floor**: the helm calls that cold run made (recorded by a thin wrapper given as
  ``--refarch-helm``, which logs argv and a copy of each values file, then execs the real helm)
  replayed bare, two at a time, in the environment the suite gives helm (its ``GOGC``); the
  table also shows them with helm's default garbage collector, for reference;
- **-n 2**: the cold run with two xdist workers (a fresh cache each);
- **warm**: the same run again (no ``helm template`` or ``helm lint``: asserted);
- **edit one profile**: the chart copied, one value of ``override-large.yaml`` changed,
  ``pytest -k large`` on the warm cache: every helm call it makes carries the edited file
  (asserted), compared with warm + 1.15x those calls' bare time.

Cold, floor and ``-n 2`` run twice each, in the order cold, floor, -n 2, -n 2, floor, cold, and
each ratio is of the sums (cold / floor, -n 2 / cold): both sides of each comparison are centred
on the same moment, so a machine that slows down or speeds up during the bench weighs on both
alike. On a shared 2-core machine the same run minutes apart differed by up to a quarter, more
than the differences measured.

The runs gate like a chart repository would: the shipped waivers plus the released chart's known
root causes (``tests/released/root-causes.yaml``), so a run passes. The last test prints the
ratios and the helm calls by kind; nothing asserts on durations (the machine may be loaded).
"""

from __future__ import annotations

import os
import re
import resource
import shutil
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness_refarch.helm.binary import find_helm, go_environment

REPO = Path(__file__).resolve().parents[2]
RELEASED = Path(os.environ.get("REFARCH_RELEASED_CHART",
                               REPO.parent / "shared" / "reference" / "released-chart" / "harness"))
FIXTURES = REPO / "fixtures"
PROFILE = "large"
EDITED = "2047m"  # platform.ng-manager.java.memory in the edited override-large.yaml (released: 2048m)

pytestmark = pytest.mark.skipif(not (RELEASED / "Chart.yaml").is_file(),
                                reason=f"no released chart at {RELEASED} (set REFARCH_RELEASED_CHART)")

# Logs each call (argv NUL-separated, and a copy of each --values file: the suite's probe files are
# removed when its run ends), then runs the real helm. One directory per call, named by the time.
WRAPPER = """#!/bin/sh
d="$HARNESS_BENCH_HELM_LOG/$(date +%s%N).$$"
mkdir "$d" || exit 97
i=0
for a in "$@"; do
  case "$a" in --values=*) cp -- "${a#--values=}" "$d/values-$i" ;; esac
  printf '%s\\0' "$a" >> "$d/argv"
  i=$((i + 1))
done
exec "$HARNESS_BENCH_REAL_HELM" "$@"
"""


@dataclass(frozen=True)
class Call:
    """One logged helm call: its arguments with each values file replaced by the logged copy."""

    args: tuple[str, ...]
    original: tuple[str, ...]
    values_texts: tuple[str, ...]

    @property
    def command(self) -> str:
        return self.args[0] if self.args else ""

    @property
    def probe(self) -> bool:
        """A render without some keys (issue 13): a values file that is neither a fixture nor a
        profile file beside a ``Chart.yaml``, but one the suite wrote for the probe."""
        paths = [Path(a.removeprefix("--values=")) for a in self.original if a.startswith("--values=")]
        return any(not (p.is_relative_to(FIXTURES) or (p.parent / "Chart.yaml").is_file()) for p in paths)


@dataclass
class Run:
    seconds: float
    cpu: float  # user + system seconds of the run and every process it waited for (helm)
    calls: list[Call]
    out: str
    load: float = 0.0  # the machine's 1-minute load average when the run started (2 cores: 2 is busy)


@dataclass
class Lab:
    root: Path
    wrapper: Path
    helm: Path
    runs: dict[str, Run] = field(default_factory=dict)
    floors: dict[str, Run] = field(default_factory=dict)

    def waivers(self) -> Path:
        path = self.root / "waivers.yaml"
        if not path.is_file():
            shipped = yaml.safe_load((FIXTURES / "waivers.yaml").read_text())["waivers"]
            known = yaml.safe_load((REPO / "tests" / "released" / "root-causes.yaml").read_text())["waivers"]
            path.write_text(yaml.safe_dump({"waivers": [*shipped, *known]}, sort_keys=False))
        return path

    def suite(self, name: str, cache: str, *args: str, chart: Path = RELEASED, ok: Sequence[int] = (0,)) -> Run:
        """One run of the conformance suite through the logging helm; memoised by ``name``."""
        if name in self.runs:
            return self.runs[name]
        log = self.root / "calls" / name
        log.mkdir(parents=True)
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("REFARCH_", "ATS_", "PYTEST_")) and k not in ("GOGC", "GOMEMLIMIT")}
        env.update(HARNESS_REFARCH_CACHE=str(self.root / cache), HARNESS_BENCH_HELM_LOG=str(log),
                   HARNESS_BENCH_REAL_HELM=str(self.helm))
        cmd = [sys.executable, "-m", "pytest", str(REPO / "tests" / "conformance"), "--rootdir", str(REPO), "-q",
               "-p", "no:cacheprovider", "--chart-path", str(chart), "--refarch-helm", str(self.wrapper),
               "--refarch-waivers", str(self.waivers()), *args]
        load, before = os.getloadavg()[0], _children_cpu()
        start = time.perf_counter()
        proc = subprocess.run(cmd, cwd=self.root, env=env, capture_output=True, text=True, check=False)
        seconds = time.perf_counter() - start
        out = proc.stdout + proc.stderr
        assert proc.returncode in ok, out[-3000:]
        run = self.runs[name] = Run(seconds, _children_cpu() - before, logged_calls(log), out, load)
        return run

    def floor(self, name: str, calls: list[Call], go_default: bool = False) -> Run:
        """``calls`` (their ``helm template`` and ``helm lint``) replayed bare, two at a time, in
        the environment the suite runs helm in (``go_default``: with Go's default collector)."""
        if go_default:
            name += " (Go's default GC)"
        if name not in self.floors:
            work = [c for c in calls if c.command in ("template", "lint")]
            base = {k: v for k, v in os.environ.items() if k not in ("GOGC", "GOMEMLIMIT")}
            env = base if go_default else go_environment(base)
            load, before = os.getloadavg()[0], _children_cpu()
            start = time.perf_counter()
            with ThreadPoolExecutor(2) as pool:
                list(pool.map(lambda c: subprocess.run([str(self.helm), *c.args], stdout=subprocess.DEVNULL,
                                                       stderr=subprocess.DEVNULL, check=False, env=env), work))
            self.floors[name] = Run(time.perf_counter() - start, _children_cpu() - before, work, "", load)
        return self.floors[name]

    # Six runs in the order cold, floor, -n 2, -n 2, floor, cold: each comparison (cold against
    # its floor, -n 2 against serial cold) has its two sides centred on the same moment, so a
    # machine that slows down or speeds up during the bench weighs on both alike.
    def cold(self) -> Run:
        return self.suite("cold", "cache-serial")

    def first_floor(self) -> Run:
        return self.floor("cold", self.cold().calls)

    def cold_two_workers(self) -> Run:
        self.first_floor()
        return self.suite("cold-n2", "cache-n2", "-n", "2")

    def cold_two_workers_again(self) -> Run:
        self.cold_two_workers()
        return self.suite("cold-n2-again", "cache-n2-again", "-n", "2")

    def second_floor(self) -> Run:
        self.cold_two_workers_again()
        return self.floor("cold, again", self.cold().calls)

    def cold_again(self) -> Run:
        self.second_floor()
        return self.suite("cold-again", "cache-serial-again")

    def cold_ratio(self) -> float:
        """(cold + cold again) / (floor + floor again)."""
        return ((self.cold().seconds + self.cold_again().seconds)
                / (self.first_floor().seconds + self.second_floor().seconds))

    def two_workers_ratio(self) -> float:
        """(-n 2 + -n 2 again) / (cold + cold again)."""
        serial = self.cold().seconds + self.cold_again().seconds
        return (self.cold_two_workers().seconds + self.cold_two_workers_again().seconds) / serial

    def warm(self) -> Run:
        self.cold()
        return self.suite("warm", "cache-serial")

    def edited_chart(self) -> Path:
        chart = self.root / "edited" / "harness"
        if not chart.is_dir():
            shutil.copytree(RELEASED, chart, copy_function=shutil.copyfile)
            profile = chart / f"override-{PROFILE}.yaml"
            text = profile.read_text()
            edited, count = re.subn(r'(\n  ng-manager:\n(?:    .*\n)*?    java:\n      memory: )"?2048m"?',
                                    rf'\g<1>"{EDITED}"', text, count=1)
            assert count == 1, "the released override-large.yaml has no platform.ng-manager.java.memory: 2048m"
            assert not any(EDITED in p.read_text() for p in [*chart.glob("override-*.yaml"), *FIXTURES.rglob("*.yaml")])
            profile.write_text(edited)
        return chart

    def edit_one_profile(self) -> Run:
        self.warm()
        return self.suite("edit", "cache-serial", "-k", PROFILE, chart=self.edited_chart(), ok=(0, 1))

    def table(self) -> str:
        cold, floor = self.cold(), self.first_floor()
        two, two_again = self.cold_two_workers(), self.cold_two_workers_again()
        floor_again, cold_again = self.second_floor(), self.cold_again()
        warm = self.warm()
        default_gc = self.floor("cold", cold.calls, go_default=True)
        edit = self.edit_one_profile()
        edit_floor = self.floor("edit", edit.calls)
        bound = warm.seconds + 1.15 * edit_floor.seconds
        rows = [
            ("1. cold full matrix", cold, f"{cold.seconds / floor.seconds:.2f}x the floor after it"),
            ("2. floor: cold's helm calls, 2 at a time", floor, ""),
            ("3. cold, -n 2", two, ""),
            ("4. cold, -n 2, again", two_again, ""),
            ("5. floor, again", floor_again, ""),
            ("6. cold full matrix, again", cold_again,
             f"{cold_again.seconds / floor_again.seconds:.2f}x the floor before it"),
            ("  cold against the floor: (1 + 6) / (2 + 5)", cold, f"**{self.cold_ratio():.2f}x the floor**"),
            ("  -n 2 against serial: (3 + 4) / (1 + 6)", two, f"**{self.two_workers_ratio():.2f}x serial**"),
            ("floor with Go's default GC (GOGC=100)", default_gc,
             f"{default_gc.seconds / floor_again.seconds:.2f}x floor again; cold again is "
             f"{cold_again.seconds / default_gc.seconds:.2f}x this"),
            ("warm", warm, f"{warm.seconds / cold.seconds:.1%} of cold"),
            (f"edit one value of override-{PROFILE}.yaml, -k {PROFILE}", edit,
             f"bound: warm + 1.15 x {edit_floor.seconds:.1f} s (its calls bare, 2 at a time) = {bound:.1f} s; "
             f"{edit.seconds / bound:.2f}x the bound"),
        ]
        lines = ["", "released chart: what | wall s | CPU s | helm calls | load at start | ratio"]
        for name, run, ratio in rows:
            lines.append(f"  {name} | {run.seconds:.1f} | {run.cpu:.1f} | {len(run.calls)} | {run.load:.1f} | {ratio}")
        for name, run in (("cold", cold), ("warm", warm), ("edit", edit), ("cold -n 2", two),
                          ("cold -n 2 again", two_again), ("cold again", cold_again)):
            counted = sorted(kinds(run.calls).items())
            lines.append(f"  helm calls of {name}: " + ", ".join(f"{k} {v}" for k, v in counted))
        return "\n".join(lines)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def logged_calls(log: Path) -> list[Call]:
    calls = []
    for entry in sorted(log.iterdir()):
        original = tuple(a.decode() for a in (entry / "argv").read_bytes().split(b"\0")[:-1])
        args, texts = [], []
        for i, arg in enumerate(original):
            copy = entry / f"values-{i}"
            if arg.startswith("--values="):
                args.append(f"--values={copy}")
                texts.append(copy.read_text())
            else:
                args.append(arg)
        calls.append(Call(tuple(args), original, tuple(texts)))
    return calls


def kinds(calls: list[Call]) -> Counter[str]:
    """Helm calls by kind: a pair's render (DR standbys included), its determinism repeat (the
    same arguments again), a probe of keys that do nothing, lint, version."""
    out: Counter[str] = Counter()
    seen: set[tuple[str, ...]] = set()
    for call in calls:
        if call.command != "template":
            out[call.command or "(none)"] += 1
        elif call.probe:
            out["template (unread probe)"] += 1
        elif call.original in seen:
            out["template (determinism repeat)"] += 1
        else:
            seen.add(call.original)
            standby = any(a.endswith("/dr-standby.yaml") for a in call.original)
            out["template (DR standby)" if standby else "template (pair)"] += 1
    return out


def work(calls: list[Call]) -> Counter[str]:
    """:func:`kinds` without ``helm version`` (each process of a run may ask it once)."""
    return Counter({k: v for k, v in kinds(calls).items() if k != "version"})


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Lab:
    root = tmp_path_factory.mktemp("released-bench")
    wrapper = root / "helm"
    wrapper.write_text(WRAPPER)
    wrapper.chmod(0o755)
    return Lab(root, wrapper, find_helm())


def test_cold_full_matrix(benchmark: Any, lab: Lab) -> None:
    run = benchmark.pedantic(lab.cold, rounds=1, iterations=1)
    benchmark.extra_info["helm_calls"] = dict(kinds(run.calls))
    assert kinds(run.calls)["template (pair)"] > 0 and kinds(run.calls)["lint"] > 0


# The order of the six cold-side runs matters (see Lab.cold): pytest runs these in file order.
def test_helm_floor_two_at_a_time(benchmark: Any, lab: Lab) -> None:
    """Exactly the helm calls of the cold run, bare: what a cold run cannot beat."""
    floor = benchmark.pedantic(lab.first_floor, rounds=1, iterations=1)
    benchmark.extra_info["calls"] = len(floor.calls)


def test_cold_two_workers(benchmark: Any, lab: Lab) -> None:
    run = benchmark.pedantic(lab.cold_two_workers, rounds=1, iterations=1)
    benchmark.extra_info["helm_calls"] = dict(kinds(run.calls))
    assert work(run.calls) == work(lab.cold().calls)  # the same helm work as serial, each call once


def test_cold_two_workers_again(benchmark: Any, lab: Lab) -> None:
    run = benchmark.pedantic(lab.cold_two_workers_again, rounds=1, iterations=1)
    assert work(run.calls) == work(lab.cold().calls)


def test_helm_floor_again(benchmark: Any, lab: Lab) -> None:
    benchmark.pedantic(lab.second_floor, rounds=1, iterations=1)


def test_cold_serial_again(benchmark: Any, lab: Lab) -> None:
    run = benchmark.pedantic(lab.cold_again, rounds=1, iterations=1)
    assert work(run.calls) == work(lab.cold().calls)


def test_warm_makes_no_template_or_lint_call(benchmark: Any, lab: Lab) -> None:
    run = benchmark.pedantic(lab.warm, rounds=1, iterations=1)
    counted = kinds(run.calls)
    benchmark.extra_info["helm_calls"] = dict(counted)
    assert not [c for c in run.calls if c.command in ("template", "lint")], counted


def test_edit_one_profile_renders_only_that_profile(benchmark: Any, lab: Lab) -> None:
    """After one value of override-large.yaml changed, ``-k large`` renders and lints only
    stacks holding the edited file (their probes included), and some of them."""
    run = benchmark.pedantic(lab.edit_one_profile, rounds=1, iterations=1)
    work = [c for c in run.calls if c.command in ("template", "lint")]
    benchmark.extra_info["helm_calls"] = dict(kinds(run.calls))
    assert work and kinds(run.calls)["lint"] > 0
    foreign = [c.original for c in work if not any(EDITED in text for text in c.values_texts)]
    assert not foreign, f"{len(foreign)} helm call(s) without the edited profile file, e.g. {foreign[0]}"
    lab.floor("edit", run.calls)


def test_report_ratios(benchmark: Any, lab: Lab, capsys: pytest.CaptureFixture[str]) -> None:
    """The table the README's Benchmarks section quotes (wall-clock and CPU seconds, helm calls,
    the load average each run started at); a benchmark only so that ``--benchmark-only`` runs it."""
    table = benchmark.pedantic(lab.table, rounds=1, iterations=1)
    with capsys.disabled():
        print(table)
