"""The chart repository's configuration file: where it is found, what it may say, how it ranks
against flags and REFARCH_* variables, and where golden files may be recorded."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness_refarch.checks import golden, severities
from harness_refarch.engine import config as configfile
from harness_refarch.engine import options
from harness_refarch.engine.config import KEYS, RepoConfig, find_config, load_config, lookup, with_severities
from harness_refarch.engine.session import Options, RefarchSession
from harness_refarch.model.errors import RefarchError

REPO = Path(__file__).resolve().parents[2]


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def error_of(path: Path) -> str:
    with pytest.raises(RefarchError) as exc:
        load_config(path)
    return str(exc.value)


# -- where the file is found -----------------------------------------------------------------------

def test_search_walks_up_from_the_working_directory(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    found = write(tmp_path / ".harness-refarch.yaml", "chart: harness\n")
    deep = tmp_path / "src" / "harness" / "templates"
    deep.mkdir(parents=True)
    assert find_config(deep) == found
    assert find_config(tmp_path) == found


def test_the_nearest_folder_wins(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    write(tmp_path / ".harness-refarch.yaml", "chart: harness\n")
    inner = write(tmp_path / "sub" / ".harness-refarch.yaml", "chart: other\n")
    assert find_config(tmp_path / "sub") == inner


def test_in_one_folder_the_yaml_file_wins_over_pyproject(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    write(tmp_path / "pyproject.toml", '[tool.harness-refarch]\nchart = "a"\n')
    yaml_file = write(tmp_path / ".harness-refarch.yaml", "chart: b\n")
    assert find_config(tmp_path) == yaml_file
    yaml_file.unlink()
    assert find_config(tmp_path) == tmp_path / "pyproject.toml"


def test_a_pyproject_without_the_table_is_passed_over(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    outer = write(tmp_path / ".harness-refarch.yaml", "chart: harness\n")
    write(tmp_path / "pkg" / "pyproject.toml", '[project]\nname = "x"\n[tool.ruff]\nline-length = 100\n')
    assert find_config(tmp_path / "pkg") == outer


@pytest.mark.parametrize("marker", ["folder", "file"])  # a clone; a worktree or submodule
def test_the_search_stops_at_the_repository_root(tmp_path: Path, marker: str) -> None:
    write(tmp_path / ".harness-refarch.yaml", "chart: outside\n")  # above the repository: not its gate
    repo = tmp_path / "repo"
    repo.mkdir()
    if marker == "folder":
        (repo / ".git").mkdir()
    else:
        write(repo / ".git", "gitdir: /elsewhere/.git/worktrees/repo\n")
    assert find_config(repo) is None
    write(repo / ".harness-refarch.yaml", "chart: inside\n")
    assert find_config(repo) == repo / ".harness-refarch.yaml"


def test_a_broken_pyproject_that_names_the_table_is_one_paragraph(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    write(tmp_path / "pyproject.toml", "[tool.harness-refarch\nchart = \n")
    with pytest.raises(RefarchError, match=r"not valid TOML") as exc:
        find_config(tmp_path)
    assert "\n" not in str(exc.value)
    write(tmp_path / "pyproject.toml", "[tool.other\n")  # broken, but not ours: passed over
    assert find_config(tmp_path) is None


# -- what it may say -------------------------------------------------------------------------------

def test_every_option_but_the_one_run_actions_is_a_key() -> None:
    names = {o.name for o in options.OPTIONS}
    assert names - set(configfile.ACTIONS) <= set(KEYS)
    assert not set(configfile.ACTIONS) & set(KEYS)
    assert {"chart", "severity", "golden", "waivers", "fail-on", "node-shape", "report", "sarif"} <= set(KEYS)


def test_an_unknown_key_is_one_paragraph_naming_key_file_and_known_keys(tmp_path: Path) -> None:
    path = write(tmp_path / ".harness-refarch.yaml", "chart: harness\nprofiles: [large]\n")
    message = error_of(path)
    assert "'profiles'" in message and "did you mean 'profile'?" in message
    assert str(path) in message
    assert "Known keys: chart, chart-version" in message and "golden" in message and "severity" in message
    assert "\n" not in message


def test_actions_and_prefixed_names_get_their_own_advice(tmp_path: Path) -> None:
    message = error_of(write(tmp_path / ".harness-refarch.yaml", "update: true\n--refarch-fail-on: error\n"))
    assert "'update' (an action for one run, not a setting: pass --refarch-update" in message
    assert "'--refarch-fail-on' (write it without the prefix: 'fail-on')" in message


@pytest.mark.parametrize(("text", "words"), [
    ("render-timeout: fast\n", "'render-timeout'"),
    ("render-workers: 2.5\n", "a whole number"),
    ("no-cache: 'yes'\n", "true or false"),
    ("profile: 3\n", "a string or a list of strings"),
    ("cluster-version: 1.30\n", "quote numbers"),  # YAML reads 1.30 as the float 1.3
    ("fail-on: fatal\n", "one of error, warning, info"),
    ("severity: [resources]\n", "a mapping of check or rule id"),
    ("severity: {resources: high}\n", "'resources' has severity 'high'"),
])
def test_a_wrong_type_is_one_paragraph(tmp_path: Path, text: str, words: str) -> None:
    path = write(tmp_path / ".harness-refarch.yaml", text)
    message = error_of(path)
    assert words in message and str(path) in message and "\n" not in message


def test_the_file_goes_through_the_safe_bounded_loader(tmp_path: Path) -> None:
    laughs = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{c}: &{c} [{', '.join(['*' + p] * 10)}]\n" for p, c in zip("abcdefg", "bcdefgh", strict=True))
    assert "refused" in error_of(write(tmp_path / ".harness-refarch.yaml", laughs))
    unsafe = "chart: !!python/object:os.system x\n"
    assert "not valid YAML" in error_of(write(tmp_path / ".harness-refarch.yaml", unsafe))
    assert "must be a mapping" in error_of(write(tmp_path / ".harness-refarch.yaml", "- chart\n"))
    assert load_config(write(tmp_path / ".harness-refarch.yaml", "")).values == {}


def test_relative_paths_start_at_the_files_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = tmp_path / "repo"
    (repo / "src" / "harness").mkdir(parents=True)
    path = write(repo / ".harness-refarch.yaml", "chart: src/harness\nvalues: [ops/a.yaml, /abs/b.yaml]\n"
                 "golden: refarch/golden\nwaivers: refarch/waivers.yaml\nreport: out/report.html\n"
                 "profile: large\nhelm: bin/helm\n")
    monkeypatch.chdir(tmp_path)  # not the file's folder
    config = load_config(path)
    assert config.base == repo
    assert lookup(config, "chart") == str(repo / "src" / "harness")
    assert lookup(config, "values") == [str(repo / "ops" / "a.yaml"), "/abs/b.yaml"]
    assert lookup(config, "golden") == str(repo / "refarch" / "golden")
    assert lookup(config, "--refarch-waivers") == str(repo / "refarch" / "waivers.yaml")
    assert lookup(config, "report") == str(repo / "out" / "report.html")
    assert lookup(config, "helm") == str(repo / "bin" / "helm")
    assert lookup(config, "profile") == ["large"]  # a single value of a repeatable option is a list of one
    assert lookup(config, "architecture") is None


def test_a_repo_chart_reference_stays_a_reference(tmp_path: Path) -> None:
    config = load_config(write(tmp_path / ".harness-refarch.yaml", "chart: harness/harness\nchart-version: '0.45.0'\n"))
    assert lookup(config, "chart") == "harness/harness"
    assert lookup(config, "chart-version") == "0.45.0"
    config = load_config(write(tmp_path / ".harness-refarch.yaml", "chart: ./charts/harness\n"))
    assert lookup(config, "chart") == str(tmp_path / "charts" / "harness")


def test_pyproject_table_reads_like_the_yaml_file(tmp_path: Path) -> None:
    (tmp_path / "src" / "harness").mkdir(parents=True)
    path = write(tmp_path / "pyproject.toml", '[project]\nname = "charts"\n\n[tool.harness-refarch]\n'
                 'chart = "src/harness"\nprofile = ["large", "medium"]\nfail-on = "warning"\nrender-timeout = 300\n'
                 '\n[tool.harness-refarch.severity]\nimage-tag-pinned = "info"\n')
    config = load_config(path)
    assert config.base == tmp_path
    assert lookup(config, "chart") == str(tmp_path / "src" / "harness")
    assert lookup(config, "profile") == ["large", "medium"]
    assert lookup(config, "fail-on") == "warning"
    assert lookup(config, "render-timeout") == 300
    assert lookup(config, "severity") == {"image-tag-pinned": "info"}
    assert "'profiles'" in error_of(write(tmp_path / "pyproject.toml", '[tool.harness-refarch]\nprofiles = ["x"]\n'))


def test_golden_and_waivers_default_beside_the_file_never_to_the_package(tmp_path: Path) -> None:
    config = load_config(write(tmp_path / ".harness-refarch.yaml", "chart: harness\n"))
    assert lookup(config, "golden") == str(tmp_path / "refarch" / "golden")
    assert lookup(config, "waivers") is None  # no file yet: the suite's default applies
    write(tmp_path / "refarch" / "waivers.yaml", "waivers: []\n")
    assert lookup(config, "waivers") == str(tmp_path / "refarch" / "waivers.yaml")
    assert lookup(None, "golden") is None  # without a file: today's default (<fixtures>/golden)


# -- precedence: flag > REFARCH_* > file > default -------------------------------------------------

@pytest.mark.parametrize(("flag", "given", "env", "configured", "default"), [
    ("--refarch-profile", ["small"], "medium", "profile: [large]", []),
    ("--refarch-fail-on", "error", "warning", "fail-on: info", None),
    ("--refarch-render-timeout", "30", "60", "render-timeout: 90", 120.0),
    ("--refarch-no-cache", True, "false", "no-cache: true", None),
])
def test_flag_beats_variable_beats_file_beats_default(tmp_path: Path, flag: str, given: object, env: str,
                                                      configured: str, default: object) -> None:
    config = load_config(write(tmp_path / ".harness-refarch.yaml", configured + "\n"))
    option = options.BY_FLAG[flag]
    from_file = lookup(config, option.name)
    environ = {option.env: env}
    empty = [] if option.kind == "list" else None

    def resolve(given: object, environ: dict[str, str], with_file: bool) -> object:
        return options.resolve(flag, given, environ, config.lookup if with_file else None)

    flag_value = resolve(given, environ, True)
    assert flag_value in (given, float(str(given)) if option.kind == "float" else given)
    assert resolve(empty, environ, True) == resolve(empty, environ, False)  # the variable beats the file
    assert resolve(empty, environ, True) != resolve(empty, {}, True)
    assert resolve(empty, {}, True) == (from_file if option.kind != "float" else float(from_file))
    assert resolve(empty, {}, False) == default


def test_severity_overrides_change_the_gate(tmp_path: Path) -> None:
    shipped = severities.load(REPO / "fixtures")
    assert shipped.level("image-tag-pinned") != "info"
    config = load_config(write(tmp_path / ".harness-refarch.yaml", "severity:\n  image-tag-pinned: info\n"))
    levels = with_severities(shipped, config)
    assert levels.level("image-tag-pinned") == "info"
    assert levels.level("resources") == shipped.level("resources")
    assert with_severities(shipped, None) is shipped
    typo = load_config(write(tmp_path / ".harness-refarch.yaml", "severity:\n  image-tag-pined: info\n"))
    with pytest.raises(RefarchError, match=r"unknown check or rule id 'image-tag-pined' \(did you mean "
                                           r"'image-tag-pinned'\?\)"):
        with_severities(shipped, typo)


# -- golden files: a folder of the repository, never the installed package --------------------------

def test_golden_files_are_read_from_the_configured_folder(tmp_path: Path, real_helm: Path) -> None:
    folder = tmp_path / "refarch" / "golden"
    rs = RefarchSession(Options(chart=REPO / "charts" / "harness-prod", fixtures=REPO / "fixtures",
                                helm=str(real_helm), golden=folder, cache=False, profiles=["demo"]))
    try:
        pair = rs.pairs[0]
        assert rs.golden_path(pair) == folder / "demo" / "demo.yaml"
        assert rs.golden(pair) is None  # not the fixtures' file
        problem = rs.golden_problem(pair)
        assert "no golden file golden/demo/demo.yaml" in problem  # portable: no machine path
        assert str(tmp_path) not in problem
    finally:
        rs.close()
    default = RefarchSession(Options(chart=REPO / "charts" / "harness-prod", fixtures=REPO / "fixtures",
                                     helm=str(real_helm), cache=False, profiles=["demo"]))
    try:
        assert default.golden_path(default.pairs[0]) == REPO / "fixtures" / "golden" / "demo" / "demo.yaml"
    finally:
        default.close()


def test_recording_into_the_installed_package_is_refused(tmp_path: Path) -> None:
    package = tmp_path / "site-packages" / "harness_refarch"
    with pytest.raises(RefarchError) as exc:
        golden.check_recordable(package / "data" / "fixtures" / "golden", package)
    message = str(exc.value)
    assert "installed harness-refarch package" in message and "golden: refarch/golden" in message
    assert "\n" not in message
    golden.check_recordable(tmp_path / "repo" / "refarch" / "golden", package)  # a repository's folder: fine
    golden.check_recordable(REPO / "fixtures" / "golden")  # a checkout's fixtures are not the package


def test_a_session_refuses_update_into_the_package_before_any_render(tmp_path: Path) -> None:
    inside = golden.PACKAGE / "data" / "fixtures" / "golden"
    with pytest.raises(RefarchError, match="installed harness-refarch package"):
        RefarchSession(Options(chart=tmp_path / "no-chart", fixtures=REPO / "fixtures", golden=inside,
                               update_golden=True, helm="/nonexistent/helm"))
    assert not inside.exists()


# -- the plugin and the command line read it ---------------------------------------------------------

def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("REFARCH_", "ATS_"))}


def test_check_reports_a_bad_file_as_one_paragraph(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    write(tmp_path / ".harness-refarch.yaml", "chart: harness\nnode-shapes: ['8,32Gi']\n")
    proc = subprocess.run([sys.executable, "-m", "harness_refarch.cli", "check", "-q"], cwd=tmp_path, env=_env(),
                          capture_output=True, text=True, check=False, timeout=300)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 4, out[-2000:]
    assert "'node-shapes' (did you mean 'node-shape'?)" in out
    assert "Traceback" not in out


def test_check_without_chart_or_file_says_what_to_do(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    proc = subprocess.run([sys.executable, "-m", "harness_refarch.cli", "check", "-q"], cwd=tmp_path, env=_env(),
                          capture_output=True, text=True, check=False, timeout=300)
    assert proc.returncode == 4
    assert "needs a chart" in proc.stderr and "harness-refarch init" in proc.stderr


def test_repo_config_object_is_a_lookup() -> None:
    config = RepoConfig(Path("/r/.harness-refarch.yaml"), Path("/r"), {"fail-on": "error"})
    assert config.lookup("fail-on") == "error" == options.resolve("--refarch-fail-on", None, {}, config.lookup)


def test_diff_reads_the_file_after_flags_and_variables(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from harness_refarch import cli

    (tmp_path / ".git").mkdir()
    write(tmp_path / ".harness-refarch.yaml", "profile: [large]\nvalues: ops/mine.yaml\ncluster-version: '1.29'\n")
    monkeypatch.chdir(tmp_path)
    for name in ("REFARCH_PROFILE", "REFARCH_VALUES", "ATS_CLUSTER_VERSION"):
        monkeypatch.delenv(name, raising=False)
    args = cli.build_parser().parse_args(["diff", "old", "new"])
    cli.resolve_options(args)
    assert args.refarch_profile == ["large"]
    assert args.refarch_values == [str(tmp_path / "ops" / "mine.yaml")]
    assert args.cluster_version == "1.29"
    monkeypatch.setenv("REFARCH_PROFILE", "small")
    args = cli.build_parser().parse_args(["diff", "old", "new", "--cluster-version", "1.30"])
    cli.resolve_options(args)
    assert args.refarch_profile == ["small"] and args.cluster_version == "1.30"
