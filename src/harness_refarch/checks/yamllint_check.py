"""yamllint on values files: the chart's ``override-*.yaml`` and the user's ``--values`` files.

A values file can be valid YAML and still wrong in a way no render shows: the same key twice in
one mapping is legal YAML 1.1, and every parser (helm's included) silently keeps the last one, so
the first setting is lost without a word. yamllint (the well-kept linter chart maintainers
already use, with the configuration kept in the repository as ``fixtures/yamllint.yaml``) finds that and
the usual style problems; this module turns its problems into findings. For a duplicate key it
also names the line of the first occurrence, which yamllint does not report.

Findings quote yamllint's description, the key and line numbers, never a value: a values file
may hold credentials.
"""

from __future__ import annotations

import bisect
import copy
import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml
from yamllint import linter  # type: ignore[import-untyped]
from yamllint.config import YamlLintConfig, YamlLintConfigError  # type: ignore[import-untyped]

from harness_refarch.checks.registry import Context, check
from harness_refarch.helm.store import digest_of
from harness_refarch.model.catalog import Pair
from harness_refarch.model.errors import RefarchError
from harness_refarch.model.findings import Finding
from harness_refarch.model.manifest import SAFE_LOADER, Manifest

CHECK = "yamllint"
DUPLICATES = "key-duplicates"

# What each common rule wants, phrased as the finding's "expected"; other rules fall back to
# "passes yamllint rule <id>".
EXPECTATIONS = {
    "truthy": "true or false (yes/no/on/off mean different things to different YAML parsers)",
    "trailing-spaces": "no trailing spaces",
    "indentation": "consistent indentation",
    "new-line-at-end-of-file": "a newline at the end of the file",
    "new-lines": "unix line endings",
    "empty-lines": "at most the allowed number of blank lines",
    "colons": "one space after a colon, none before",
    "commas": "one space after a comma, none before",
    "hyphens": "one space after a list hyphen",
    "braces": "the allowed spacing inside braces",
    "brackets": "the allowed spacing inside brackets",
    "comments": "a comment separated from content",
    "document-end": "the configured document end",
    "document-start": "the configured document start",
    "empty-values": "a value for every key",
    "line-length": "lines within the configured length",
    "octal-values": "no implicit octal values",
    "anchors": "anchors declared before use and used",
}


class YamllintError(RefarchError):
    """The yamllint configuration or a values file cannot be read."""


@dataclass(frozen=True)
class _Duplicate:
    key: str
    path: str  # dotted key path of the duplicate, e.g. "platform.ng-manager.replicaCount"
    first_line: int


@lru_cache(maxsize=8)
def _config(config: Path, mtime_ns: int) -> YamlLintConfig:
    """Parse the config once per file version (``mtime_ns`` is part of the cache key)."""
    try:
        return YamlLintConfig(file=str(config))
    except YamlLintConfigError as exc:
        raise YamllintError(f"The yamllint configuration {config} is invalid: {exc}. Fix it (see "
                            "https://yamllint.readthedocs.io/en/stable/configuration.html).") from None


def load_config(config: Path) -> YamlLintConfig:
    """The yamllint configuration kept in the repository (``fixtures/yamllint.yaml``)."""
    try:
        mtime = config.stat().st_mtime_ns
    except OSError as exc:
        raise YamllintError(f"Cannot read the yamllint configuration {config}: {exc.strerror}. It is "
                            "kept in the reference-architecture data as fixtures/yamllint.yaml; "
                            "check the path.") from None
    return _config(config, mtime)


def _key_text(node: yaml.Node) -> str:
    return str(node.value) if isinstance(node, yaml.ScalarNode) else f"<{node.tag.rsplit(':', 1)[-1]}>"


def duplicate_keys(text: str) -> dict[tuple[int, int], _Duplicate]:
    """(line, column) of every repeated key (1-based, as yamllint reports it) -> the key, its
    dotted path and the line of its first occurrence in the same mapping. Empty when the text is
    not valid YAML (yamllint reports the syntax error itself)."""
    return _keys(text)[0]


def _keys(text: str) -> tuple[dict[tuple[int, int], _Duplicate], list[tuple[int, str]]]:
    """:func:`duplicate_keys`, and the line and dotted path of every mapping key in line order
    (each problem is anchored to the key at or above its line). Both empty when the text is not
    valid YAML."""
    try:
        documents = list(yaml.compose_all(text, Loader=SAFE_LOADER))
    except yaml.YAMLError:
        return {}, []
    found: dict[tuple[int, int], _Duplicate] = {}
    anchors: list[tuple[int, str]] = []
    visited: set[int] = set()

    def walk(node: yaml.Node | None, path: str) -> None:
        if node is None or id(node) in visited:
            return
        visited.add(id(node))
        if isinstance(node, yaml.MappingNode):
            first: dict[str, int] = {}
            for key, value in node.value:
                name = _key_text(key)
                here = f"{path}.{name}" if path else name
                mark = key.start_mark
                anchors.append((mark.line + 1, here))
                if name in first and name != "<<":
                    found[(mark.line + 1, mark.column + 1)] = _Duplicate(name, here, first[name])
                else:
                    first.setdefault(name, mark.line + 1)
                walk(value, here)
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                walk(item, f"{path}[{index}]")

    for document in documents:
        walk(document, "")
    anchors.sort(key=lambda a: a[0])  # stable: the outermost key of a line first
    return found, anchors


_PLAIN_KEY = re.compile(r"[^\s,]+")


def _anchor(anchors: list[tuple[int, str]], line: int) -> str:
    """The dotted path of the last key starting at or above ``line`` ("" above the first key, or
    for a key a source cannot name: one with a blank or a comma). A problem's source names it,
    so that its root cause's fingerprint stays when other lines of the file change."""
    at = bisect.bisect_right(anchors, line, key=lambda a: a[0])
    if not at:
        return ""
    key = anchors[at - 1][1]
    return key if _PLAIN_KEY.fullmatch(key) else ""


def _findings(path: Path, problems: Iterable[linter.LintProblem],
              duplicates: dict[tuple[int, int], _Duplicate], origin: str,
              anchors: list[tuple[int, str]]) -> list[Finding]:
    out = []
    for problem in problems:
        line, column, rule = problem.line, problem.column, problem.rule
        key = _anchor(anchors, line)
        source = f"{origin}:{line} {key}" if key else f"{origin}:{line}"
        level = "" if problem.level == "error" else f", level {problem.level}"
        if rule is None:  # a syntax error: the file is not YAML at all
            out.append(Finding(CHECK, path.name, f"line {line}", "valid YAML",
                               f"'{problem.desc}' at column {column}",
                               "helm cannot read this file either", source))
            continue
        if rule == DUPLICATES:
            dup = duplicates.get((line, column))
            if dup is not None:
                out.append(Finding(
                    CHECK, path.name, dup.path, f"key {dup.key} once in its mapping",
                    f"{dup.key} at lines {dup.first_line} and {line}; YAML keeps line {line} and "
                    f"silently drops line {dup.first_line}",
                    f"yamllint rule {DUPLICATES}{level}: delete or merge one of the two", source))
                continue
        out.append(Finding(CHECK, path.name, f"line {line}",
                           EXPECTATIONS.get(rule, f"passes yamllint rule {rule}"),
                           f"'{problem.desc}' at column {column}", f"yamllint rule {rule}{level}", source))
    return out


def lint_values_file(path: Path, config: Path, origin: str | None = None) -> list[Finding]:
    """yamllint findings for one values file under the repository's configuration.

    Every problem yamllint reports at the configured level (error or warning) is a finding; rules
    the configuration disables, and files its ``ignore`` patterns match, report nothing. Sources
    name the file as ``origin`` (the values layer's label, as value sources name it: a profile
    file by its name, so no message carries the checkout's path); default the path.
    """
    conf = load_config(config)
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except OSError as exc:
        raise YamllintError(f"Cannot read values file {path}: {exc.strerror}. Check the path.") from None
    except UnicodeDecodeError as exc:
        raise YamllintError(f"Values file {path} is not UTF-8 text (invalid byte at offset {exc.start}); "
                            "helm values files are YAML. Pass the YAML file or convert it to UTF-8.") from None
    problems = list(linter.run(text, _without_duplicates(conf), str(path)))
    duplicates: dict[tuple[int, int], _Duplicate] = {}
    anchors: list[tuple[int, str]] = []
    rule = conf.rules.get(DUPLICATES)
    find_duplicates = rule and not any(p.rule is None for p in problems) and not conf.is_file_ignored(str(path))
    if problems or find_duplicates:
        found, anchors = _keys(text)
    if find_duplicates:
        # yamllint's own pass keeps a list of the keys seen per mapping (quadratic: a 100k-key
        # file takes minutes); the composed graph gives the same problems in one linear pass.
        duplicates = found
        level = rule.get("level", "error") if isinstance(rule, dict) else "error"
        for (line, column), dup in duplicates.items():
            problem = linter.LintProblem(line, column, f'duplication of key "{dup.key}" in mapping', DUPLICATES)
            problem.level = level
            problems.append(problem)
        problems.sort(key=lambda p: (p.line, p.column))
    return _findings(path, problems, duplicates, origin or str(path), anchors)


@lru_cache(maxsize=8)
def _without_duplicates(conf: YamlLintConfig) -> YamlLintConfig:
    """The same configuration with yamllint's key-duplicates rule off (see lint_values_file)."""
    if not conf.rules.get(DUPLICATES):
        return conf
    copy_ = copy.copy(conf)
    copy_.rules = {**conf.rules, DUPLICATES: False}
    return copy_


@check("values_files_lint", findings=(CHECK,), context=True,
       doc="yamllint on the profile file and your values files; duplicate keys name both lines.")
def values_files_lint(ctx: Context, pair: Pair, manifest: Manifest) -> list[Finding]:
    """Each file once per content across pairs and runs (the render store keeps the findings)."""
    config = Path(ctx.options.fixtures) / "yamllint.yaml"
    files = [(layer.path, layer.origin) for layer, _, role in ctx.labelled_layers(pair)
             if role in ("profile", "user") and layer.path is not None]
    token = digest_of(config)
    return [f for path, origin in files for f in ctx.stored_file(
        "yamllint", path, functools.partial(lint_values_file, path, config, origin), extra=f"{token}\0{origin}")]
