"""The ``harness-refarch`` command.

``harness-refarch diff OLD NEW`` renders two versions of the chart (directories, ``.tgz``
packages or repo/chart references) for each selected (profile, architecture) pair, with the
same fixtures, values and ``--set`` on both sides, and prints per pair what changed, the
changes that would block ``helm upgrade`` from OLD to NEW, and the checks NEW fails that
OLD passed.

Exit codes of ``diff`` (a blocker takes precedence: a failing upgrade stops a release before
any conformance question does; both are always printed):

* 0: no upgrade blocker and no regression;
* 1: NEW fails a check that OLD passed (for some pair);
* 2: some pair could not be compared (a render failed on either side, or no pair is common to both
  charts): the answer is incomplete, and the pairs not compared are listed;
* 3: at least one upgrade blocker (whether or not there are regressions);
* 4: bad input (one paragraph, no traceback).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

from harness_refarch.checks.registry import REGISTRY
from harness_refarch.diff.compare import (
    ABSENT,
    SECTIONS,
    Change,
    PairDiff,
    Regression,
    all_masked,
    diff_pair,
    regressions,
    upgrade_blockers,
)
from harness_refarch.engine import checking, options
from harness_refarch.engine import config as configfile
from harness_refarch.engine.session import DEFAULT_KUBE_VERSION, Options, RefarchSession
from harness_refarch.helm.binary import RUNNING, bounded, interrupt_on_terminate
from harness_refarch.model import markdown
from harness_refarch.model.catalog import Pair
from harness_refarch.model.errors import RefarchError
from harness_refarch.model.files import write_atomic
from harness_refarch.model.findings import Finding
from harness_refarch.model.manifest import Manifest
from harness_refarch.model.redact import mask
from harness_refarch.report import merge

PROG = "harness-refarch"
EXIT_OK, EXIT_REGRESSION, EXIT_NOT_COMPARED, EXIT_BLOCKERS, EXIT_USAGE = 0, 1, 2, 3, 4
RENDER = "render"
_RESULT = {EXIT_OK: "no upgrade blocker, no regression", EXIT_REGRESSION: "NEW fails checks that OLD passed",
           EXIT_BLOCKERS: "upgrade blockers", EXIT_NOT_COMPARED: "not everything could be compared"}


class _Parser(argparse.ArgumentParser):
    """argparse exits 2 on bad arguments; here bad input is exit 4, one paragraph, like every
    other usage error of the suite."""

    def error(self, message: str) -> NoReturn:
        raise RefarchError(f"{message}. Run `{self.prog} --help` for the options.")


# -- the checks the diff compares: those the registry marks ``diff=True`` (golden and determinism
#    are not: golden files record the OLD chart, so every intended change would look like a
#    regression, and determinism needs a second render of each side) ------------------------------


def run_checks(rs: RefarchSession, pair: Pair, manifest: Manifest) -> dict[str, list[Finding]]:
    """Findings per applicable check; a check that cannot run (a render it needs failed) fails."""
    out: dict[str, list[Finding]] = {}
    for check in REGISTRY.compared():
        try:
            found = checking.for_diff(rs, check, pair, manifest)
        except RefarchError as exc:
            found = [Finding(check.id, pair.id, RENDER, "every render the check needs", mask(_first_line(exc)))]
        except Exception as exc:
            if check.builtin:
                raise
            raise RefarchError(f"check {check.id} of {check.module} crashed on {pair.id} (a bug of that module, "
                               f"outside harness-refarch): {type(exc).__name__}: {mask(str(exc))[:300]}") from None
        if found is not None:
            out[check.id] = all_masked(found)
    return out


def _first_line(exc: BaseException) -> str:
    return bounded(str(exc), 3, 0)


# -- one side of one pair --------------------------------------------------------------------------
@dataclass
class Side:
    manifest: Manifest | None
    error: str = ""
    findings: dict[str, list[Finding]] = field(default_factory=dict)


def render_side(rs: RefarchSession, pair: Pair) -> Side:
    try:
        manifest = rs.manifest(pair)
    except RefarchError as exc:
        message = mask(bounded(str(exc), 10, 5))
        return Side(None, message, {RENDER: [Finding(RENDER, pair.id, RENDER, "a render",
                                                     "failed (helm's error is shown under the pair)")]})
    return Side(manifest, "", {RENDER: [], **run_checks(rs, pair, manifest)})


# -- the report ------------------------------------------------------------------------------------
@dataclass
class PairReport:
    pair: str
    diff: PairDiff | None
    blockers: list[Finding]
    note: str = ""  # why the pair was not compared (a render failed)


@dataclass
class DiffReport:
    old: str
    new: str
    pairs: list[PairReport]
    regressions: list[Regression]
    notes: list[str] = field(default_factory=list)

    @property
    def blockers(self) -> dict[Finding, list[str]]:
        """Each distinct blocker with the pairs it occurs in (usually all pairs that render it)."""
        out: dict[Finding, list[str]] = {}
        for p in self.pairs:
            for finding in p.blockers:
                out.setdefault(finding, []).append(p.pair)
        return out

    @property
    def not_compared(self) -> list[str]:
        return [p.pair for p in self.pairs if p.diff is None]

    @property
    def exit_code(self) -> int:
        if any(p.blockers for p in self.pairs):
            return EXIT_BLOCKERS
        if self.not_compared or not self.pairs:
            return EXIT_NOT_COMPARED
        return EXIT_REGRESSION if self.regressions else EXIT_OK


def compare(old: RefarchSession, new: RefarchSession, pairs: Sequence[Pair | tuple[Pair, Pair]]) -> DiffReport:
    """Render both sides of every pair (all renders started up front, in parallel) and compare.

    A pair is one Pair for both sides, or (OLD pair, NEW pair) when --refarch-profile-map maps
    the profile; such a pair is reported as ``OLD id -> NEW id``."""
    both = [p if isinstance(p, tuple) else (p, p) for p in pairs]
    for rs, side in ((old, 0), (new, 1)):
        rs.prefetch(dict.fromkeys(r for p in both for r in rs.requests_for(p[side])))
    report = DiffReport(_describe(old), _describe(new), [], [])
    old_findings: dict[tuple[str, str], list[Finding]] = {}
    new_findings: dict[tuple[str, str], list[Finding]] = {}
    for old_pair, new_pair in both:
        label = pair_label(old_pair, new_pair)
        a, b = render_side(old, old_pair), render_side(new, new_pair)
        old_findings.update({(label, k): v for k, v in a.findings.items()})
        new_findings.update({(label, k): v for k, v in b.findings.items()})
        if a.manifest is None or b.manifest is None:
            note = "; ".join(f"{side} render failed: {s.error}" for side, s in (("OLD", a), ("NEW", b)) if s.error)
            report.pairs.append(PairReport(label, None, [], note))
            continue
        databases = old.effective_pair(old_pair).architecture.databases  # the hosts the values configure
        report.pairs.append(PairReport(label, diff_pair(a.manifest, b.manifest, databases),
                                       all_masked(upgrade_blockers(a.manifest, b.manifest))))
    report.regressions = regressions(old_findings, new_findings)
    return report


def _describe(rs: RefarchSession) -> str:
    chart = rs.chart
    if chart is None:  # pragma: no cover - validate() always resolves it
        return str(rs.options.chart)
    return f"{chart.origin} ({chart.name} {chart.version})"


# -- formats ---------------------------------------------------------------------------------------
def _change_line(c: Change) -> str:
    if not c.field:
        return "added" if c.old == ABSENT else "removed"
    return f"{c.field}: {c.old} -> {c.new}"


def _grouped(changes: Iterable[Change]) -> dict[str, dict[str, list[Change]]]:
    out: dict[str, dict[str, list[Change]]] = {}
    for c in changes:
        out.setdefault(c.section, {}).setdefault(c.object, []).append(c)
    return out


def _result_line(report: DiffReport) -> str:
    code = report.exit_code
    missing = report.not_compared
    why = (f"; not compared: {', '.join(missing)}" if missing
           else "; no pair is common to both charts" if not report.pairs else "")
    return f"Result: {_RESULT[code]} (exit {code}){why}"


def format_text(report: DiffReport) -> str:
    """Readable, indented plain text for a terminal or a CI log. Every line is masked."""
    lines = [f"{PROG} diff", f"OLD: {report.old}", f"NEW: {report.new}", *report.notes]
    unchanged = []
    for p in report.pairs:
        if p.diff is None:
            lines += ["", p.pair, "  not compared: " + p.note.replace("\n", "\n    ")]
            continue
        if p.diff.empty:
            unchanged.append(p.pair)
            continue
        lines += ["", p.pair]
        for section, objects in _grouped(p.diff.changes).items():
            lines.append(f"  {section}")
            for obj, changes in objects.items():
                whole = [c for c in changes if not c.field]
                if whole:
                    c = whole[0]
                    sign = "+" if c.old == ABSENT else "-"
                    detail = c.new if c.old == ABSENT else c.old
                    lines.append(f"    {sign} {obj} ({_change_line(c)})"
                                 + (f": {detail}" if detail not in ("rendered", ABSENT) else ""))
                    continue
                lines.append(f"    {obj}")
                lines += [f"      {_change_line(c)}" for c in changes]
    if unchanged:
        lines += ["", f"No changes: {', '.join(unchanged)}"]
    blockers = report.blockers
    lines += ["", f"Upgrade blockers (helm upgrade OLD -> NEW fails or loses data): {len(blockers) or 'none'}"]
    for f, pairs in blockers.items():
        lines.append(f"  - {f.workload}: {f.field}: OLD {f.expected} -> NEW {f.actual}")
        lines.append(f"    {f.hint}")
        lines.append(f"    pairs: {', '.join(pairs)}")
    lines += ["", f"Regressions (checks NEW fails that OLD passed): {len(report.regressions) or 'none'}"]
    for r in report.regressions:
        lines.append(f"  {r.pair} {r.check}: {len(r.findings)} finding(s)")
        lines += [f"    - {f}" for f in r.findings]
    lines += ["", _result_line(report)]
    return "\n".join(mask(line) for line in lines) + "\n"


def _cell(text: str) -> str:
    return markdown.escape(text)


def _row(*cells: str) -> str:
    return "| " + " | ".join(_cell(c) for c in cells) + " |"


def format_markdown(report: DiffReport) -> str:
    """GitHub-flavoured Markdown for a pull-request comment: a heading per pair, tables."""
    lines = [f"## {PROG} diff", "", f"- OLD: {_cell(report.old)}", f"- NEW: {_cell(report.new)}",
             *(f"- {_cell(n)}" for n in report.notes), "", f"**{_cell(_result_line(report))}**"]
    unchanged = []
    for p in report.pairs:
        if p.diff is None:
            lines += ["", f"### {_cell(p.pair)}", "", f"Not compared: {_cell(p.note)}"]
            continue
        if p.diff.empty:
            unchanged.append(p.pair)
            continue
        lines += ["", f"### {_cell(p.pair)}", "", _row("section", "object", "field", "OLD", "NEW"),
                  "|---|---|---|---|---|"]
        for c in p.diff.changes:
            field_text = c.field or ("workload added" if c.old == ABSENT else "workload removed")
            lines.append(_row(c.section, c.object, field_text, c.old, c.new))
    if unchanged:
        lines += ["", f"No changes: {_cell(', '.join(unchanged))}"]
    blockers = report.blockers
    lines += ["", "### Upgrade blockers", ""]
    if blockers:
        lines += [_row("object", "field", "OLD", "NEW", "why", "pairs"), "|---|---|---|---|---|---|"]
        lines += [_row(f.workload, f.field, f.expected, f.actual, f.hint, ", ".join(pairs))
                  for f, pairs in blockers.items()]
    else:
        lines.append("None.")
    lines += ["", "### Regressions (checks NEW fails that OLD passed)", ""]
    if report.regressions:
        lines += [_row("pair", "check", "findings"), "|---|---|---|"]
        lines += [_row(r.pair, r.check, "\n".join(str(f) for f in r.findings)) for r in report.regressions]
    else:
        lines.append("None.")
    return "\n".join(lines) + "\n"


FORMATS: dict[str, Callable[[DiffReport], str]] = {"text": format_text, "markdown": format_markdown}


# -- command line ----------------------------------------------------------------------------------
def default_fixtures() -> Path:
    """``./fixtures`` when run from a checkout, else the data next to the installed package."""
    candidates = [Path.cwd() / "fixtures"]
    try:
        candidates.append(data_dir("fixtures"))
    except RefarchError:
        pass
    for candidate in candidates:
        if (candidate / "architectures.yaml").is_file():
            return candidate
    raise RefarchError("No reference-architecture data found (looked for fixtures/architectures.yaml in the "
                       "current directory and beside the installed package). Pass --refarch-fixtures DIR.")


def _add_render_options(p: argparse.ArgumentParser) -> None:
    for option in options.for_command("diff"):  # the table the pytest plugin reads too
        p.add_argument(option.flag, **options.argparse_kwargs(option))
    p.add_argument("--cluster-version", default=None, metavar="V",
                   help="Kubernetes version for helm template --kube-version (default: the lowest minor the "
                        "chart's kubeVersion admits, at least 1.27)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description="Harness reference-architecture conformance tools.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    diff = sub.add_parser(
        "diff", help="what changes between two chart versions, upgrade blockers, regressions",
        description="Render OLD and NEW for each (profile, architecture) pair and print what changed, the "
                    "changes that block `helm upgrade` OLD -> NEW, and the checks NEW fails that OLD passed. "
                    "Exit 0: nothing blocking, no regression; 1: regressions; 2: something could not be compared "
                    "(a render failed on either side, or no pair is common); 3: upgrade blockers (takes precedence "
                    "over 1 and 2); 4: bad input.")
    diff.add_argument("old", metavar="OLD", help="chart directory, .tgz or repo/chart of the current version")
    diff.add_argument("new", metavar="NEW", help="chart directory, .tgz or repo/chart of the candidate version")
    _add_render_options(diff)
    diff.add_argument("--format", choices=sorted(FORMATS), default="text", help="output format (default text)")
    diff.add_argument("--output", metavar="FILE", help="write the report to FILE instead of standard output")
    diff.set_defaults(handler=run_diff)
    check = sub.add_parser(
        "check", help="run the conformance suite against CHART (from the installed package)",
        description="Run the conformance suite that this package carries against CHART (a chart directory, "
                    "a .tgz, or repo/chart with --chart-version). Every argument after CHART goes to pytest, "
                    "e.g. `harness-refarch check ./harness -k large --refarch-report report.html`. Without "
                    "CHART, the chart and settings come from the repository's configuration file "
                    "(.harness-refarch.yaml or [tool.harness-refarch] in pyproject.toml; `harness-refarch init` "
                    "writes one). Exit codes are pytest's.")
    check.add_argument("chart", metavar="CHART", nargs="?",
                       help="chart directory, .tgz or repo/chart (default: 'chart' of the configuration file)")
    check.add_argument("pytest_args", nargs=argparse.REMAINDER, metavar="PYTEST_ARGS",
                       help="passed to pytest unchanged (options of the suite start with --refarch-)")
    check.set_defaults(handler=run_check)
    init = sub.add_parser(
        "init", help="set up the gate of a chart repository: configuration, golden files, baseline, CI workflow",
        description="Run at the root of a chart repository: find the Harness chart below it, write "
                    ".harness-refarch.yaml, record golden files (refarch/golden) and a baseline of today's findings "
                    "(refarch/waivers.yaml) with one run of the suite, and write the CI workflow "
                    ".github/workflows/harness-refarch.yml. `harness-refarch check` then needs no arguments there. "
                    "Existing files are never overwritten without --force.")
    init.add_argument("--chart", metavar="DIR", help="the chart folder, when the search finds several or none")
    init.add_argument("--force", action="store_true", help="replace the files init writes when they exist")
    init.add_argument("--install", metavar="SPEC",
                      help="what the workflow installs with pip (default: the git URL and commit this copy was "
                           "installed from)")
    init.add_argument("--refarch-helm", metavar="PATH", help="helm binary for the recording run")
    init.set_defaults(handler=run_init)
    merge.add_parser(sub)  # harness-refarch merge SHARD.json...
    return parser


def _parse(argv: list[str]) -> argparse.Namespace:
    """The command line; ``check`` takes its optional CHART only as a first argument that is no
    option, so that ``harness-refarch check -k large`` passes everything to pytest."""
    if argv[:1] == ["check"] and len(argv) > 1 and argv[1].startswith("-") and argv[1] not in ("-h", "--help"):
        return argparse.Namespace(command="check", chart=None, pytest_args=argv[1:], handler=run_check)
    return build_parser().parse_args(argv)


def data_dir(name: str) -> Path:
    """The wheel's copy of ``fixtures`` or ``conformance``, else the checkout's (editable install)."""
    package = Path(__file__).resolve().parent
    installed = package / "data" / name
    if installed.is_dir() and any(installed.iterdir()):
        return installed
    checkout = package.parents[1] / {"fixtures": "fixtures", "conformance": "tests/conformance"}[name]
    if checkout.is_dir():
        return checkout
    raise RefarchError(f"The packaged {name} data is missing from {installed}; reinstall harness-refarch.")


def run_check(args: argparse.Namespace) -> int:
    """``pytest <packaged conformance tests> --chart-path CHART [args]``: the suite outside a checkout."""
    import pytest

    conformance = data_dir("conformance")
    extra = list(args.pytest_args)
    found = configfile.discover(Path.cwd())
    chart = [f"--chart-path={args.chart}"] if args.chart else []
    if not chart and not os.environ.get("ATS_CHART_PATH") and not configfile.lookup(found, "chart") \
            and not any(a.startswith("--chart-path") for a in extra):
        where = f"{found.path} sets no 'chart'" if found is not None else (
            f"no {configfile.YAML_NAME} (or [tool.harness-refarch] in pyproject.toml) was found from {Path.cwd()} "
            "up to the repository root")
        raise RefarchError(f"harness-refarch check needs a chart: none was given and {where}. Pass CHART (a chart "
                           "directory, .tgz or repo/chart), set 'chart: path/to/harness' in the configuration file, "
                           "or run `harness-refarch init` at the root of the chart repository.")
    given = any(a.startswith("--refarch-fixtures") for a in extra) or os.environ.get("REFARCH_FIXTURES") \
        or configfile.lookup(found, "fixtures")
    fixtures = [] if given else ["--refarch-fixtures", str(data_dir("fixtures"))]
    argv = [str(conformance), "--rootdir", str(conformance), "-p", "no:cacheprovider",
            "-o", "xfail_strict=true", "-o", "addopts=-ra",
            "-W", "ignore:cannot discover fixture:pytest.PytestWarning",
            "-W", "ignore:Module already imported so cannot be rewritten:pytest.PytestAssertRewriteWarning",
            *chart, *fixtures, *extra]
    return int(pytest.main(argv))


def run_init(args: argparse.Namespace) -> int:
    """``harness-refarch init``: see :mod:`harness_refarch.init`."""
    from harness_refarch import init

    fixtures = data_dir("fixtures")
    environ = dict(os.environ)
    if args.refarch_helm:
        environ["REFARCH_HELM"] = str(Path(args.refarch_helm).expanduser().resolve())
    return init.run_init(Path.cwd(), fixtures, chart=args.chart, force=args.force, install=args.install,
                         environ=environ)


def _chart(spec: str) -> Path:
    path = Path(spec).expanduser()
    return path.resolve() if path.exists() else Path(spec)


_PROFILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def profile_map(given: Sequence[str]) -> dict[str, str]:
    """``--refarch-profile-map OLD=NEW`` options as {OLD profile: NEW profile}."""
    out: dict[str, str] = {}
    for item in given:
        old, sep, new = item.partition("=")
        if not sep or not _PROFILE_NAME.match(old) or not _PROFILE_NAME.match(new):
            raise RefarchError(f"--refarch-profile-map {item!r} is not of the form OLD=NEW with two profile names "
                               "(the <name> of override-<name>.yaml), e.g. --refarch-profile-map prod=large.")
        if old in out and out[old] != new:
            raise RefarchError(f"--refarch-profile-map maps OLD profile {old} twice ({old}={out[old]}, {item}); "
                               "give one NEW profile per OLD profile.")
        out[old] = new
    return out


def side_profiles(selected: Sequence[str], mapping: dict[str, str], side: str) -> list[str]:
    """``--refarch-profile`` as one side names it: a mapped profile selects its counterpart."""
    back: dict[str, list[str]] = {}
    for old, new in mapping.items():
        back.setdefault(new, []).append(old)
    out: list[str] = []
    for name in selected:
        if side == "OLD":
            out += back.get(name, [name]) if name not in mapping else [name]
        else:
            out.append(mapping.get(name, name))
    return list(dict.fromkeys(out))


def resolve_options(args: argparse.Namespace) -> None:
    """Each option of the table as the plugin reads it: the flag, else its REFARCH_* variable,
    else the repository's configuration file, else its default."""
    if getattr(args, "command", None) != "diff":
        return
    found = configfile.discover(Path.cwd())
    for option in options.for_command("diff"):
        if hasattr(args, option.dest):
            setattr(args, option.dest, options.resolve(option.flag, getattr(args, option.dest),
                                                       lookup=found.lookup if found is not None else None))
    args.cluster_version = (args.cluster_version or os.environ.get("ATS_CLUSTER_VERSION")
                            or configfile.lookup(found, "cluster-version") or DEFAULT_KUBE_VERSION)


def options_for(chart: str, args: argparse.Namespace, side: str = "") -> Options:
    """Session options for one side; both sides get the same everything but the chart (and the
    profile names, translated through --refarch-profile-map)."""
    fixtures = Path(args.refarch_fixtures).expanduser().resolve() if args.refarch_fixtures else default_fixtures()
    profiles = list(args.refarch_profile)
    mapping = profile_map(getattr(args, "refarch_profile_map", [])) if side else {}
    if side:
        profiles = side_profiles(profiles, mapping, side)
    # an OLD profile file no rule adopts runs like the NEW profile it is mapped to
    like = {old: new for old, new in mapping.items()} if side == "OLD" else {}
    return Options(
        chart=_chart(chart), fixtures=fixtures, helm=args.refarch_helm,
        profiles=profiles, architectures=list(args.refarch_architecture),
        values=[Path(v).expanduser().resolve() for v in args.refarch_values], sets=list(args.refarch_set),
        manifests=[Path(m).expanduser().resolve() for m in args.refarch_manifests],
        release=args.refarch_release_name, namespace=args.refarch_namespace, kube_version=args.cluster_version,
        profiles_like=like)


def common_pairs(old: RefarchSession, new: RefarchSession, mapping: dict[str, str] | None = None
                 ) -> tuple[list[tuple[Pair, Pair]], list[str]]:
    """(OLD pair, NEW pair) to compare: the same architecture, the same profile or the one
    ``mapping`` (--refarch-profile-map) names; and notes on the pairs left uncompared."""
    mapping = mapping or {}
    for side, rs, names in (("OLD", old, mapping.keys()), ("NEW", new, mapping.values())):
        files = set(rs.chart_profiles())
        for name in names:
            if name not in files:
                raise RefarchError(f"--refarch-profile-map names {side} profile {name}, but the {side} chart has no "
                                   f"override-{name}.yaml; it has {', '.join(sorted(files)) or 'none'}.")
    claimed = set(mapping.values())
    by_id = {p.id: p for p in new.pairs}
    out: list[tuple[Pair, Pair]] = []
    notes: list[str] = []
    matched: set[str] = set()
    for p in old.pairs:
        target = mapping.get(p.profile.name, None if p.profile.name in claimed else p.profile.name)
        counterpart = by_id.get(f"{target}-{p.architecture.name}") if target is not None else None
        if counterpart is not None:
            out.append((p, counterpart))
            matched.add(counterpart.id)
        elif target is None:
            owners = [o for o, n in mapping.items() if n == p.profile.name]
            notes.append(f"{p.id}: not compared (NEW's {p.profile.name} is compared with OLD's {', '.join(owners)}, "
                         "--refarch-profile-map)")
        elif target != p.profile.name:
            notes.append(f"{p.id}: NEW runs no {target}-{p.architecture.name} (not compared)")
        else:
            notes.append(f"{p.id}: only OLD has override-{p.profile.name}.yaml (not compared{_suggest(p, new)})")
    notes += [f"{p.id}: only NEW has override-{p.profile.name}.yaml (not compared)"
              for p in new.pairs if p.id not in matched and p.profile.name not in claimed]
    return out, notes


def _suggest(pair: Pair, new: RefarchSession) -> str:
    """``; map it with ...`` for an OLD profile without figures whose like-profile NEW has."""
    like = pair.profile.like
    if like and any(p.profile.name == like for p in new.pairs):
        return f"; compare it with NEW's {like} by --refarch-profile-map {pair.profile.name}={like}"
    return ""


def pair_label(old: Pair, new: Pair) -> str:
    """How the report names a compared pair: its id, or both ids when the profile was mapped."""
    return old.id if old.id == new.id else f"{old.id} -> {new.id}"


def _session(side: str, chart: str, args: argparse.Namespace) -> RefarchSession:
    """One side's session; a problem with the chart says which side it is about."""
    try:
        return RefarchSession(options_for(chart, args, side))
    except RefarchError as exc:
        message = str(exc)
        if "--chart-path" in message or chart in message:
            raise RefarchError(f"{side} chart {chart}: {message.replace('--chart-path ', '')}") from None
        raise


def check_modules(given: Sequence[str]) -> list[str]:
    """``--refarch-checks`` modules, else those of ``REFARCH_CHECKS`` (comma-separated)."""
    if given:
        return list(given)
    return [m.strip() for m in os.environ.get("REFARCH_CHECKS", "").split(",") if m.strip()]


def run_diff(args: argparse.Namespace) -> int:
    sessions: list[RefarchSession] = []
    REGISTRY.load(check_modules(getattr(args, "refarch_checks", [])))
    try:
        old = _session("OLD", args.old, args)
        sessions.append(old)
        new = _session("NEW", args.new, args)
        sessions.append(new)
        mapping = profile_map(args.refarch_profile_map)
        pairs, notes = common_pairs(old, new, mapping)
        if not pairs:
            olds = sorted({p.profile.name for p in old.pairs})
            news = sorted({p.profile.name for p in new.pairs})
            likes = [f"{p.profile.name}={p.profile.like}" for p in old.pairs if p.profile.like in news]
            example = f" (e.g. --refarch-profile-map {likes[0]})" if likes else ""
            raise RefarchError(f"OLD ({args.old}) and NEW ({args.new}) have no (profile, architecture) pair in "
                               f"common: OLD runs profiles {', '.join(olds) or 'none'}, NEW runs "
                               f"{', '.join(news) or 'none'}. Map a profile of OLD to one of NEW with "
                               f"--refarch-profile-map OLD=NEW{example}, or check --refarch-profile.")
        report = compare(old, new, pairs)
        report.notes = notes
        text = FORMATS[args.format](report)
        if args.output:
            write_atomic(Path(args.output).expanduser().resolve(), text)
            print(f"{PROG} diff: report written to {args.output}; {_result_line(report)}")
        else:
            sys.stdout.write(text)
        return report.exit_code
    finally:
        for rs in sessions:
            rs.close(wait=not RUNNING.interrupted)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``harness-refarch`` console script; returns the exit code."""
    restore_sigterm = interrupt_on_terminate()  # SIGTERM cleans up as Ctrl-C does
    try:
        args = _parse(list(sys.argv[1:] if argv is None else argv))
        resolve_options(args)
        handler: Callable[[argparse.Namespace], int] = args.handler
        return handler(args)
    except RefarchError as exc:
        print(f"{PROG}: {mask(str(exc))}", file=sys.stderr)
        return EXIT_USAGE
    except SystemExit as exc:  # --help and --version: argparse's own exit, returned like every other code
        return exc.code if isinstance(exc.code, int) else EXIT_OK
    except KeyboardInterrupt:
        RUNNING.kill_all()
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    finally:
        restore_sigterm()


__all__ = ["EXIT_BLOCKERS", "EXIT_NOT_COMPARED", "EXIT_OK", "EXIT_REGRESSION", "EXIT_USAGE", "SECTIONS",
           "DiffReport", "PairReport", "build_parser", "compare", "format_markdown", "format_text", "main"]


if __name__ == "__main__":
    raise SystemExit(main())
