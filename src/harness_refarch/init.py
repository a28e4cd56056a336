"""``harness-refarch init``: give a chart repository its own gate in one command.

Run at the root of a chart repository, it finds the Harness chart below it (a ``Chart.yaml``
with ``override-<profile>.yaml`` files beside it; among several, the one named ``harness``),
then writes:

* ``.harness-refarch.yaml``: the chart, its profiles, the golden and waivers locations, the
  severity threshold and the report paths (see :mod:`harness_refarch.engine.config`);
* ``refarch/golden/<profile>/<architecture>.yaml``: golden files recorded from today's chart;
* ``refarch/waivers.yaml``: a baseline of today's findings, so the gate fails on new ones only;
* ``refarch/.gitignore``: keeps the reports under ``refarch/out/`` out of the repository;
* ``.github/workflows/harness-refarch.yml``: installs the suite, puts the pinned helm on PATH,
  runs ``harness-refarch check`` and uploads the SARIF file to code scanning.

Nothing that exists is overwritten without ``--force``; the chart itself is never written.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

import yaml

from harness_refarch.engine.config import DEFAULT_GOLDEN, DEFAULT_WAIVERS, YAML_NAME, find_config
from harness_refarch.model.catalog import load_catalog, load_yaml
from harness_refarch.model.errors import RefarchError
from harness_refarch.model.files import write_atomic
from harness_refarch.model.redact import mask

WORKFLOW = Path(".github/workflows/harness-refarch.yml")
OUT = "refarch/out"
REPORT = f"{OUT}/report.html"
SARIF = f"{OUT}/refarch.sarif"
JUNIT = f"{OUT}/junit.xml"
GITIGNORE = "refarch/.gitignore"
MAX_DEPTH = 6  # folders below the root searched for the chart
_SKIP = {"node_modules", "__pycache__", "venv", "site-packages", "dist", "build"}
PLACEHOLDER = "git+https://github.com/<org>/harness-refarch"


@dataclass
class Plan:
    """What ``init`` found and will write."""

    root: Path
    chart: Path
    profiles: list[str]
    skipped: list[str] = field(default_factory=list)  # profile files without figures or rule
    install: str = PLACEHOLDER
    dependency_build: bool = False

    @property
    def chart_rel(self) -> str:
        rel = self.chart.relative_to(self.root).as_posix() if self.chart != self.root else "."
        return rel if rel.startswith(".") or rel.count("/") != 1 else f"./{rel}"

    def files(self) -> list[Path]:
        return [self.root / YAML_NAME, self.root / DEFAULT_WAIVERS, self.root / GITIGNORE, self.root / WORKFLOW]


# -- finding the chart ------------------------------------------------------------------------------
def profile_files(chart: Path) -> list[str]:
    """``<name>`` of each ``override-<name>.yaml`` beside ``Chart.yaml``."""
    return sorted(p.name.removeprefix("override-").removesuffix(".yaml") for p in chart.glob("override-*.yaml")
                  if p.is_file())


def find_charts(root: Path) -> list[Path]:
    """Chart folders below ``root`` (hidden and vendored folders skipped, at most MAX_DEPTH deep)
    that carry profile files: ``Chart.yaml`` with ``override-*.yaml`` beside it."""
    found: list[Path] = []
    for here, dirs, files in os.walk(root):
        depth = len(Path(here).relative_to(root).parts)
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in _SKIP and depth < MAX_DEPTH)
        if "Chart.yaml" in files and profile_files(Path(here)):
            found.append(Path(here))
            dirs[:] = [d for d in dirs if d != "charts"]  # a chart's own dependencies are not candidates
    return found


def _chart_name(chart: Path) -> str:
    try:
        doc = load_yaml(chart / "Chart.yaml", "Chart.yaml")
    except RefarchError:
        return ""
    return str(doc.get("name") or "") if isinstance(doc, dict) else ""


def choose_chart(root: Path, given: str | None = None) -> Path:
    """The chart ``init`` sets up: ``given``, else the only candidate, else the one named harness."""
    if given:
        chart = (root / Path(given).expanduser()).resolve()
        if not (chart / "Chart.yaml").is_file():
            raise RefarchError(f"--chart {given}: {chart} has no Chart.yaml. Pass the folder of the Harness chart.")
        if not profile_files(chart):
            raise RefarchError(f"--chart {given}: {chart} has no override-<profile>.yaml beside its Chart.yaml, so "
                               "there is no profile to check. Pass the folder that holds override-demo.yaml, "
                               "override-small.yaml, ...")
        return chart
    candidates = find_charts(root)
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        raise RefarchError(f"No Harness chart below {root}: no Chart.yaml with override-<profile>.yaml files beside "
                           f"it (searched {MAX_DEPTH} folders deep, hidden folders skipped). Run `harness-refarch "
                           "init` at the root of the chart repository, or pass --chart DIR.")
    named = [c for c in candidates if _chart_name(c) == "harness"]
    if len(named) == 1:
        return named[0]
    shown = ", ".join(c.relative_to(root).as_posix() or "." for c in (named or candidates))
    raise RefarchError(f"Several charts below {root} have profile files ({shown}) and "
                       f"{'several are' if named else 'none is'} named harness. Pick one with --chart DIR.")


def _dependency_build(chart: Path) -> bool:
    """Whether CI must run ``helm dependency build``: a dependency is not vendored in ``charts/``."""
    try:
        doc = load_yaml(chart / "Chart.yaml", "Chart.yaml")
    except RefarchError:
        return False
    deps = doc.get("dependencies") if isinstance(doc, dict) else None
    vendored = chart / "charts"
    for dep in deps if isinstance(deps, list) else []:
        name = str(dep.get("name") or "") if isinstance(dep, dict) else ""
        if name and not ((vendored / name).is_dir() or any(vendored.glob(f"{name}-*.tgz"))):
            return True
    return False


# -- where the workflow installs the suite from -----------------------------------------------------
def _no_credentials(url: str) -> str:
    """``url`` without a user or token in it (a clone URL may carry one)."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    return urlunsplit((parts.scheme, host + (f":{parts.port}" if parts.port else ""), parts.path, parts.query,
                       parts.fragment))


def _https(remote: str) -> str | None:
    """A clone URL CI can fetch without keys: https as is, ``git@host:path`` as https."""
    if remote.startswith("https://"):
        return _no_credentials(remote)
    if remote.startswith("git@") and ":" in remote:
        host, path = remote[4:].split(":", 1)
        return f"https://{host}/{path}"
    return None


def _git(folder: Path, *args: str) -> str:
    try:
        proc = subprocess.run(["git", "-C", str(folder), *args], capture_output=True, text=True, check=False,
                              timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return proc.stdout.strip() if proc.returncode == 0 else ""


def install_spec() -> str:
    """What ``pip install`` takes in CI: the git URL and commit this copy was installed from
    (PEP 610 ``direct_url.json``, or the checkout's ``origin`` and HEAD for a local install),
    else a placeholder to edit."""
    from importlib import metadata

    try:
        text = metadata.distribution("harness-refarch").read_text("direct_url.json") or ""
        data = json.loads(text) if text else {}
    except (metadata.PackageNotFoundError, ValueError):
        data = {}
    url = str(data.get("url") or "")
    vcs = data.get("vcs_info")
    if isinstance(vcs, dict) and url:
        https = _https(url) or _no_credentials(url)
        commit = vcs.get("commit_id")
        return f"git+{https}@{commit}" if commit else f"git+{https}"
    if url.startswith("file://"):
        folder = Path(unquote(urlsplit(url).path))
        remote = _https(_git(folder, "remote", "get-url", "origin"))
        commit = _git(folder, "rev-parse", "HEAD")
        if remote and commit:
            return f"git+{remote}@{commit}"
    return PLACEHOLDER


# -- the files --------------------------------------------------------------------------------------
def _scalar(text: str) -> str:
    """``text`` as a YAML scalar: plain when that reads back as the same string, else double-quoted."""
    return text if re.fullmatch(r"[A-Za-z0-9._/][A-Za-z0-9._/-]*", text) and yaml.safe_load(text) == text \
        else json.dumps(text)


def config_text(plan: Plan) -> str:
    """The starter ``.harness-refarch.yaml``: every line it sets, with what it means."""
    profiles = yaml.safe_dump(plan.profiles, default_flow_style=True, width=1_000).strip()
    settings = [
        (f"chart: {_scalar(plan.chart_rel)}", "the chart under test (as --chart-path)"),
        (f"profile: {profiles}", "the profiles run (override-<profile>.yaml beside Chart.yaml)"),
        *((f"# override-{name}.yaml", "no reference-architecture figures and no rule adopts it: not run")
          for name in plan.skipped),
        ("# architecture: [prod-3-incluster]", "only these architectures (default: every one)"),
        (f"golden: {DEFAULT_GOLDEN}", "golden files; re-record with `harness-refarch check --refarch-update`"),
        (f"waivers: {DEFAULT_WAIVERS}", "known findings; init wrote today's as the baseline"),
        ("fail-on: error", "warnings and infos are reported without failing the gate"),
        (f"report: {REPORT}", "HTML report (.md: Markdown, .json: JSON)"),
        (f"sarif: {SARIF}", "SARIF 2.1.0 for code scanning"),
        ('# node-shape: ["8,32Gi"]', "plan node counts for your node pools"),
        ("# severity:", "per check or rule id: error, warning or info"),
        ("#   image-tag-pinned: warning", ""),
    ]
    width = max(len(line) for line, _ in settings) + 2
    body = "".join(f"{line.ljust(width)}# {why}\n" if why else f"{line}\n" for line, why in settings)
    return ("# harness-refarch: this repository's reference-architecture gate (written by `harness-refarch init`).\n"
            "# Read by `harness-refarch check` (and pytest) started in this folder or below. Command-line flags\n"
            "# and REFARCH_* variables override it. Relative paths start at this file's folder. Keys: the long\n"
            "# names of the --refarch- options without the prefix, plus chart, chart-version, cluster-version\n"
            "# and severity.\n" + body)


def workflow_text(plan: Plan) -> str:
    deps = (f"      - run: helm dependency build {plan.chart_rel}   # the suite never fetches dependencies itself\n"
            if plan.dependency_build else "")
    edit = ("   # EDIT: where harness-refarch is installed from (a git URL and commit)"
            if plan.install == PLACEHOLDER else "")
    return f"""\
# Written by `harness-refarch init`: the reference-architecture gate of this chart repository.
name: harness-refarch
on:
  pull_request:
  push:
    branches: [main]
permissions:
  contents: read
  security-events: write   # upload the SARIF file to code scanning
jobs:
  conformance:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-python@v5
        with: {{python-version: "3.11"}}
      - run: pip install "{plan.install}"{edit}
      - run: echo "$(dirname "$(harness-refarch-install-helm --path-only)")" >> "$GITHUB_PATH"  # helm on PATH
{deps}      - run: harness-refarch check --junitxml {JUNIT}   # settings from {YAML_NAME}
      - if: always() && hashFiles('{SARIF}') != ''
        uses: github/codeql-action/upload-sarif@v3
        with: {{sarif_file: {SARIF}, category: harness-refarch}}
      - if: always()
        uses: actions/upload-artifact@v4
        with: {{name: harness-refarch, path: {OUT}/}}
"""


def plan_for(root: Path, fixtures: Path, chart: str | None = None, install: str | None = None) -> Plan:
    """Find the chart and its profiles; nothing is written."""
    root = root.resolve()
    found = choose_chart(root, chart)
    names = profile_files(found)
    catalog = load_catalog(fixtures)
    catalog.adopt(names)
    profiles = [n for n in names if n in catalog.profiles]
    if not profiles:
        raise RefarchError(f"The chart {found} has profile files ({', '.join(f'override-{n}.yaml' for n in names)}) "
                           "but none is a profile of the reference architectures (demo, small, medium, large) or "
                           f"adopted by a rule of {fixtures / 'profiles.yaml'}; there is nothing to check.")
    order = {name: i for i, name in enumerate(catalog.profiles)}
    return Plan(root, found, sorted(profiles, key=lambda n: order[n]), [n for n in names if n not in profiles],
                install or install_spec(), _dependency_build(found))


def refuse_existing(plan: Plan, force: bool) -> None:
    """One paragraph listing what exists, unless ``force``; also a configuration that would be shadowed."""
    if force:
        return
    golden = plan.root / DEFAULT_GOLDEN
    existing = [p for p in plan.files() if p.exists()]
    if golden.is_dir() and any(golden.rglob("*.yaml")):
        existing.append(golden)
    if existing:
        shown = ", ".join(p.relative_to(plan.root).as_posix() for p in existing)
        raise RefarchError(f"harness-refarch init would overwrite {shown} in {plan.root}. Nothing was written. Move "
                           "them away, or run `harness-refarch init --force` to replace them (golden files and the "
                           "baseline are recorded again from today's chart).")
    other = find_config(plan.root)
    if other is not None and other.name != YAML_NAME:
        raise RefarchError(f"{other} already configures harness-refarch ([tool.harness-refarch]); a "
                           f"{YAML_NAME} beside it would take precedence silently. Nothing was written. Move the "
                           "table out of pyproject.toml, or run `harness-refarch init --force`.")


def run_init(root: Path, fixtures: Path, *, chart: str | None = None, force: bool = False,
             install: str | None = None, record: bool = True, extra: Sequence[str] = (),
             environ: dict[str, str] | None = None) -> int:
    """Write the configuration, record golden files and a baseline, write the CI workflow.
    Returns the exit code (0, or 1 when the recording run could not finish)."""
    plan = plan_for(root, fixtures, chart, install)
    refuse_existing(plan, force)
    write_atomic(plan.root / YAML_NAME, config_text(plan))
    write_atomic(plan.root / GITIGNORE, "# reports of harness-refarch check (see .harness-refarch.yaml)\nout/\n")
    waivers = plan.root / DEFAULT_WAIVERS
    write_atomic(waivers, "waivers: []\n")  # read (empty) while the baseline is recorded
    print(f"harness-refarch init: chart {plan.chart_rel} (profiles {', '.join(plan.profiles)}); wrote {YAML_NAME}")
    code = 0
    if record:
        code = _record(plan, extra, environ)
    write_atomic(plan.root / WORKFLOW, workflow_text(plan))
    print(f"harness-refarch init: wrote {WORKFLOW.as_posix()}")
    if plan.install == PLACEHOLDER:
        print(f"harness-refarch init: edit the `pip install` line of {WORKFLOW.as_posix()}: this copy of "
              "harness-refarch was not installed from a git URL (or pass --install SPEC)")
    if code == 0:
        print("harness-refarch init: done. Review and commit .harness-refarch.yaml, refarch/ and .github/; "
              "`harness-refarch check` now runs the gate here with no arguments.")
    return code


def _record(plan: Plan, extra: Sequence[str], environ: dict[str, str] | None) -> int:
    """One run of the suite, as ``harness-refarch check`` from the root: golden files recorded
    (--refarch-update) and every finding written as the baseline (--refarch-baseline-update)."""
    log = plan.root / OUT / "init.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-m", "harness_refarch.cli", "check", "-q", "--tb=no",
            "--refarch-update", "--refarch-baseline-update", str(plan.root / DEFAULT_WAIVERS), *extra]
    print("harness-refarch init: recording golden files and the baseline of today's findings "
          f"(one full run; its output goes to {log.relative_to(plan.root).as_posix()}) ...", flush=True)
    with log.open("w", encoding="utf-8") as out:
        proc = subprocess.run(argv, cwd=plan.root, stdout=out, stderr=subprocess.STDOUT, check=False,
                              env=environ if environ is not None else dict(os.environ))
    text = log.read_text(encoding="utf-8", errors="replace")
    golden = sorted((plan.root / DEFAULT_GOLDEN).rglob("*.yaml"))
    if proc.returncode not in (0, 1) or not golden:
        tail = "\n".join(text.strip().splitlines()[-15:])
        print(mask(f"harness-refarch init: the recording run failed (exit {proc.returncode}); fix what it says, "
                   f"then run `harness-refarch init --force` (it replaces the files written so far). The end of "
                   f"{log}:\n{tail}"), file=sys.stderr)
        return 1
    baseline = _count(plan.root / DEFAULT_WAIVERS)
    print(f"harness-refarch init: recorded {len(golden)} golden file(s) under {DEFAULT_GOLDEN}/ and a baseline of "
          f"{baseline} finding(s) in {DEFAULT_WAIVERS}")
    return 0


def _count(waivers: Path) -> int:
    try:
        doc = load_yaml(waivers, "waivers file")
    except RefarchError:
        return 0
    entries = doc.get("waivers") if isinstance(doc, dict) else None
    return len(entries) if isinstance(entries, list) else 0


__all__ = ["Plan", "choose_chart", "config_text", "find_charts", "install_spec", "plan_for", "refuse_existing",
           "run_init", "workflow_text"]
