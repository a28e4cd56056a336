"""Bounded work on hostile YAML (issue 14): alias bombs, deep nesting, huge key counts."""

from __future__ import annotations

import itertools
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from yamllint import linter  # type: ignore[import-untyped]
from yamllint.config import YamlLintConfig  # type: ignore[import-untyped]

from harness_refarch.chart.values import load_layer
from harness_refarch.checks.yamllint_check import lint_values_file
from harness_refarch.engine import session as session_module
from harness_refarch.engine.session import Options, RefarchSession
from harness_refarch.model.errors import RefarchError
from harness_refarch.model.yaml_limits import MAX_DEPTH, MAX_KEYS, YamlLimitError, load_bounded, measure

REPO = Path(__file__).resolve().parents[2]
YAMLLINT = REPO / "fixtures" / "yamllint.yaml"


def alias_bomb(levels: int = 9) -> str:
    """About 700 bytes that expand to 9**levels nodes (a "billion laughs")."""
    names = "abcdefghijklmnop"
    lines = [f'{names[0]}: &{names[0]} ["x","x","x","x","x","x","x","x","x"]']
    for prev, name in itertools.pairwise(names[:levels]):
        lines.append(f"{name}: &{name} [{','.join([f'*{prev}'] * 9)}]")
    return "\n".join(lines) + "\n"


def test_measure_counts_expanded_nodes_without_expanding() -> None:
    node = yaml.compose(alias_bomb(), Loader=yaml.SafeLoader)
    size = measure(node)
    assert size.nodes > 9 ** 9
    assert size.depth == 11  # the top mapping, nine levels of lists, the scalars


def test_an_alias_bomb_values_file_is_refused_in_one_paragraph(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(alias_bomb())
    assert bomb.stat().st_size < 1000
    with pytest.raises(RefarchError) as info:
        load_layer(bomb)
    text = str(info.value)
    assert "bomb.yaml is refused" in text and "excessive aliasing" in text and "\n" not in text, text


def test_deep_nesting_is_an_error_not_a_recursion_error(tmp_path: Path) -> None:
    deep = tmp_path / "deep.yaml"
    deep.write_text("".join(f"{'  ' * i}k{i}:\n" for i in range(MAX_DEPTH + 5)) + f"{'  ' * (MAX_DEPTH + 5)}v: 1\n")
    with pytest.raises(RefarchError, match=r"deep\.yaml is refused: it nests \d+ levels deep"):
        load_layer(deep)
    flow = tmp_path / "flow.yaml"
    flow.write_text("a: " + "[" * 3000 + "]" * 3000 + "\n")
    with pytest.raises(RefarchError, match=r"flow\.yaml"):
        load_layer(flow)


def test_too_many_keys_are_refused(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    big.write_text("".join(f"k{i}: {i}\n" for i in range(MAX_KEYS + 1)))
    with pytest.raises(RefarchError, match=f"has {MAX_KEYS + 1:,} keys") as info:
        load_layer(big)
    assert "alias" not in str(info.value).rsplit(";", 1)[-1], info.value  # the fix suits the cause


def test_aliases_within_the_limits_still_load() -> None:
    assert load_bounded("a: &x {b: 1}\nc: *x\n", yaml.SafeLoader) == {"a": {"b": 1}, "c": {"b": 1}}
    with pytest.raises(YamlLimitError, match="recursive alias"):
        measure(yaml.compose("a: &x [*x]\n", Loader=yaml.SafeLoader))


def test_the_linear_duplicate_key_pass_reports_what_yamllint_reports(tmp_path: Path) -> None:
    """yamllint's own key-duplicates rule is quadratic; ours must find the same problems."""
    text = "a: 1\nb:\n  c: 2\n  d: [{e: 1, e: 2}]\n  c: 3\na: 4\n<<: {f: 1}\n"
    values = tmp_path / "dups.yaml"
    values.write_text(text)
    theirs = [(p.line, p.column) for p in linter.run(text, YamlLintConfig(file=str(YAMLLINT)), str(values))
              if p.rule == "key-duplicates"]
    ours = lint_values_file(values, YAMLLINT)
    assert len(theirs) == 3
    # each source is "<file>:<line> <key>", the key being the duplicate itself
    lines = sorted(int(f.source.rsplit(":", 1)[1].split(" ")[0]) for f in ours)
    assert lines == sorted(line for line, _ in theirs), ours
    assert all(f.source.endswith(f" {f.field}") for f in ours), ours
    assert {f.workload for f in ours} == {"dups.yaml"}
    assert {f.field for f in ours} == {"a", "b.c", "b.d[0].e"}


def test_waivers_and_fixture_files_are_bounded_too(tmp_path: Path) -> None:
    from harness_refarch.engine.waivers import load_waivers
    from harness_refarch.model.catalog import load_yaml

    bomb = tmp_path / "w.yaml"
    bomb.write_text("waivers: []\n" + alias_bomb())
    with pytest.raises(RefarchError, match=r"waivers file .*w\.yaml is refused: it expands to"):
        load_waivers(bomb)
    with pytest.raises(RefarchError, match=r"profiles file .*w\.yaml is refused: it expands to"):
        load_yaml(bomb, "profiles file")


def _session_counting(tmp_path: Path, real_helm: Path, monkeypatch: pytest.MonkeyPatch,
                      file: str) -> tuple[RefarchSession, dict[str, int]]:
    """A session on a chart whose ``file`` holds more keys than the limit (helm reads it fine),
    counting how often the suite reads values files and the chart tree."""
    chart = tmp_path / "chart"
    shutil.copytree(REPO / "charts" / "harness-prod", chart)
    with (chart / file).open("a") as fh:
        fh.writelines(f"zz{i}: {i}\n" for i in range(MAX_KEYS + 1))
    calls = {"layer": 0, "chart": 0}

    def counted(name: str, real: Callable[..., object]) -> Callable[..., object]:
        def wrapper(*args: object, **kwargs: object) -> object:
            calls[name] += 1
            return real(*args, **kwargs)
        return wrapper

    monkeypatch.setattr(session_module, "load_layer", counted("layer", session_module.load_layer))
    monkeypatch.setattr(session_module, "load_chart", counted("chart", session_module.load_chart))
    rs = RefarchSession(Options(chart=chart, fixtures=REPO / "fixtures", helm=str(real_helm), cache=False,
                                profiles=["demo"]))
    return rs, calls


def test_a_profile_file_past_the_limits_is_read_once_not_once_per_test(
        tmp_path: Path, real_helm: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test of the pair asks for the profile's layer: a refused file must not be read
    (and refused) again by each of them, which took minutes for 100,000 keys."""
    rs, calls = _session_counting(tmp_path, real_helm, monkeypatch, "override-demo.yaml")
    try:
        profile = rs.profile_file("demo")
        before = calls["layer"]
        for _ in range(5):
            with pytest.raises(RefarchError, match=r"override-demo\.yaml is refused: it has [0-9,]+ keys"):
                rs.layer(profile)
        assert calls["layer"] - before == 1, calls
    finally:
        rs.close()


def test_a_chart_values_file_past_the_limits_is_read_once_not_once_per_test(
        tmp_path: Path, real_helm: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rs, calls = _session_counting(tmp_path, real_helm, monkeypatch, "values.yaml")
    try:
        for _ in range(5):
            with pytest.raises(RefarchError, match=r"values\.yaml of the chart at .* is refused"):
                rs.chart_defaults  # noqa: B018 - the property reads the chart tree
        assert calls["chart"] == 1, calls
    finally:
        rs.close()
