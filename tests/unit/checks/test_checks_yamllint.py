"""yamllint_check: values files lint clean under fixtures/yamllint.yaml; problems are readable findings."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness_refarch.checks import yamllint_check
from harness_refarch.checks.yamllint_check import YamllintError, lint_values_file

ROOT = Path(__file__).resolve().parents[3]
CONFIG = ROOT / "fixtures" / "yamllint.yaml"
REPO_VALUES = sorted((ROOT / "charts" / "harness-prod").glob("override-*.yaml")) + sorted(
    (ROOT / "fixtures" / "overlays").glob("*.yaml"))


def _lint(tmp_path: Path, text: str, name: str = "values.yaml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path, lint_values_file(path, CONFIG)


@pytest.mark.parametrize("path", REPO_VALUES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_repository_values_files_lint_clean(path: Path):
    assert lint_values_file(path, CONFIG) == []


def test_clean_helm_values(tmp_path: Path):
    text = ("global:\n  ha: true\n  # a comment\n  #commented: out\n  tolerations: []\n  labels: {}\n"
            "platform:\n  ng-manager:\n    image: docker.io/harness/ng-manager-signed:1.80.4" + "x" * 200 + "\n"
            "    hosts:\n    - a\n    - b\n")
    assert _lint(tmp_path, text)[1] == []


def test_duplicate_key_names_key_and_both_lines(tmp_path: Path):
    text = "platform:\n  ng-manager:\n    replicaCount: 2\n    java:\n      memory: 1g\n    replicaCount: 3\n"
    path, [f] = _lint(tmp_path, text, "override-large.yaml")
    assert (f.check, f.workload, f.field) == ("yamllint", "override-large.yaml", "platform.ng-manager.replicaCount")
    assert f.expected == "key replicaCount once in its mapping"
    assert f.actual == "replicaCount at lines 3 and 6; YAML keeps line 6 and silently drops line 3"
    assert f.source == f"{path}:6 platform.ng-manager.replicaCount"  # anchored at its key
    assert "key-duplicates" in f.hint


def test_duplicate_top_level_and_repeated_three_times(tmp_path: Path):
    text = "global: {}\nplatform: {}\nglobal: {}\nglobal: {}\n"
    _, findings = _lint(tmp_path, text)
    assert [f.actual for f in findings] == [
        "global at lines 1 and 3; YAML keeps line 3 and silently drops line 1",
        "global at lines 1 and 4; YAML keeps line 4 and silently drops line 1"]


def test_duplicate_key_inside_a_list_item(tmp_path: Path):
    text = "hosts:\n  - name: a\n    port: 1\n    name: b\n"
    _, [f] = _lint(tmp_path, text)
    assert f.field == "hosts[0].name"
    assert f.actual == "name at lines 2 and 4; YAML keeps line 4 and silently drops line 2"


def test_same_key_in_different_mappings_is_fine(tmp_path: Path):
    assert _lint(tmp_path, "a:\n  x: 1\nb:\n  x: 2\n")[1] == []


@pytest.mark.parametrize(("text", "line", "key", "expected", "rule"), [
    ("global:\n  ha: yes\n", 2, "global.ha", "true or false", "truthy"),
    ("global:\n  ha: true   \n", 2, "global.ha", "no trailing spaces", "trailing-spaces"),
    ("a:\n  b: 1\n  c:\n     d: 2\n  e:\n    f: 3\n", 4, "a.c.d", "consistent indentation", "indentation"),
    ("a: 1", 1, "a", "a newline at the end of the file", "new-line-at-end-of-file"),
    ("a: {  b: 1 }\n", 1, "a.b", "the allowed spacing inside braces", "braces"),
], ids=["truthy", "trailing-spaces", "indentation", "final-newline", "braces"])
def test_style_problems(tmp_path: Path, text, line, key, expected, rule):
    path, findings = _lint(tmp_path, text)
    [f] = [f for f in findings if rule in f.hint]
    # the source names the key at or above the line: what a root cause's fingerprint rests on
    assert (f.workload, f.field, f.source) == ("values.yaml", f"line {line}", f"{path}:{line} {key}")
    assert f.expected.startswith(expected)
    assert f.hint == f"yamllint rule {rule}"
    assert f.actual.startswith("'") and "at column" in f.actual


def test_syntax_error(tmp_path: Path):
    _, [f] = _lint(tmp_path, "global:\n  ha: true\n bad: [\n")
    assert (f.field, f.expected) == ("line 3", "valid YAML")
    assert f.actual.startswith("'syntax error:")


def test_values_never_quoted(tmp_path: Path, text_of):
    """A duplicate password key is reported by key and line only, never by its value."""
    _, findings = _lint(tmp_path, "db:\n  password: hunter2-secret\n  password: other-secret\n")
    text = text_of(findings)
    assert "password at lines 2 and 3" in text
    assert "hunter2" not in text and "other-secret" not in text


def test_warning_level_is_a_finding_with_level_in_hint(tmp_path: Path):
    config = tmp_path / "lint.yaml"
    config.write_text("extends: default\nrules:\n  document-start: {level: warning}\n")
    path = tmp_path / "v.yaml"
    path.write_text("a: 1\n")
    [f] = lint_values_file(path, config)
    assert f.hint == "yamllint rule document-start, level warning"
    assert f.expected == "the configured document start"


def test_ignored_file_reports_nothing(tmp_path: Path):
    config = tmp_path / "lint.yaml"
    config.write_text("extends: default\nignore: |\n  generated-*.yaml\n")
    path = tmp_path / "generated-values.yaml"
    path.write_text("a: yes")
    assert lint_values_file(path, config) == []


def test_bad_config(tmp_path: Path):
    config = tmp_path / "lint.yaml"
    config.write_text("rules:\n  no-such-rule: enable\n")
    path = tmp_path / "v.yaml"
    path.write_text("a: 1\n")
    with pytest.raises(YamllintError, match=r"yamllint configuration .* is invalid"):
        lint_values_file(path, config)
    with pytest.raises(YamllintError, match="Cannot read the yamllint configuration"):
        lint_values_file(path, tmp_path / "missing.yaml")


def test_unreadable_values_file(tmp_path: Path):
    with pytest.raises(YamllintError, match="Cannot read values file"):
        lint_values_file(tmp_path / "missing.yaml", CONFIG)
    binary = tmp_path / "chart.tgz"
    binary.write_bytes(b"\x1f\x8b\x08\xff\xfe")
    with pytest.raises(YamllintError, match="is not UTF-8 text"):
        lint_values_file(binary, CONFIG)


def test_duplicate_keys_helper_on_invalid_yaml():
    assert yamllint_check.duplicate_keys("a: [\n") == {}


def test_a_problem_above_every_key_or_at_an_unnameable_key_names_only_its_line(tmp_path: Path):
    path, findings = _lint(tmp_path, "# comment   \n\"a key, spaced\": 1   \n")
    assert sorted(f.source for f in findings if "trailing-spaces" in f.hint) == [f"{path}:1", f"{path}:2"]
