"""Where the chart under test comes from, checked before any render.

``--chart-path`` takes a chart directory, a packaged ``.tgz`` (``helm package``) or a
``repo/chart`` reference. Directories are read in place and never written to; archives are
unpacked into a work directory with tarfile's ``data`` filter (no absolute paths, no ``..``,
no links or devices leaving the work directory); references are fetched with ``helm pull``,
the only network access the suite ever makes, and only because the user named a repository.
Every problem found here is one :class:`RefarchError` paragraph, so a broken ``Chart.yaml`` or a
chart without its dependencies stops the run once instead of failing every render.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tarfile
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from harness_refarch.chart.chart_yaml import declared_name, parse_chart_yaml
from harness_refarch.helm.binary import Helm, command_text
from harness_refarch.model.errors import HelmFailed, RefarchError

PROFILE_FILE = re.compile(r"^override-(?P<profile>[A-Za-z0-9][A-Za-z0-9._-]*)\.yaml$")
# `helm repo add` names and chart names: letters, digits, dot, dash, underscore; never a flag.
REPO_REFERENCE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")
KUBE_VERSION = re.compile(
    r"^v?(?P<major>0|[1-9]\d*)\.(?P<minor>0|[1-9]\d*)(?:\.(?P<patch>0|[1-9]\d*))?"
    r"(?P<pre>-[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?(?P<build>\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$"
)
# helm's own loader limits (helm 3.17+: --max-chart-size 100 MiB unpacked, --max-file-size 5 MiB per
# file): an archive past them is one helm refuses too, so it is refused before anything is unpacked.
MAX_UNPACKED_BYTES = 100 << 20
MAX_FILE_BYTES = 5 << 20
MAX_MEMBERS = 100_000
MAX_PATH_PARTS = 64  # folders a member may be nested in; real charts nest under 15 deep

SourceKind = Literal["directory", "archive", "repository"]


@dataclass(frozen=True)
class ResolvedChart:
    """A chart ready for ``helm template``: its root directory and what Chart.yaml declares."""

    dir: Path
    origin: str
    kind: SourceKind
    name: str
    version: str
    kube_version: str | None
    profiles: dict[str, Path] = field(default_factory=dict)


# -- versions ----------------------------------------------------------------------------------

def check_kube_version(v: str) -> str:
    """Normalise ``--cluster-version`` to ``MAJOR.MINOR.PATCH`` (``v1.29`` -> ``1.29.0``).

    Why: helm accepts odd strings for ``--kube-version`` and fails every render with the same
    error; checking once up front gives one message instead.
    """
    match = KUBE_VERSION.match(v.strip())
    if not match:
        raise RefarchError(
            f"--cluster-version {v!r} is not a Kubernetes version. Pass MAJOR.MINOR or "
            "MAJOR.MINOR.PATCH, for example --cluster-version 1.29 or --cluster-version v1.29.0 "
            "(or set ATS_CLUSTER_VERSION).")
    patch = match["patch"] or "0"
    return f"{match['major']}.{match['minor']}.{patch}{match['pre'] or ''}{match['build'] or ''}"


# -- Chart.yaml --------------------------------------------------------------------------------

def _read_chart_dir(root: Path, where: str) -> dict[str, Any]:
    try:
        return parse_chart_yaml((root / "Chart.yaml").read_bytes(), where)
    except OSError as exc:
        raise RefarchError(f"Could not read {where}: {exc.strerror or exc}. Check the file's "
                           "permissions.") from None


def _archive_chart_names(archive: Path) -> set[str]:
    """Names declared by the top-level Chart.yaml files of a packaged (sub)chart, read in memory."""
    names: set[str] = set()
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar:
                parts = PurePosixPath(member.name).parts
                parts = parts[1:] if parts and parts[0] == "." else parts
                if len(parts) == 2 and parts[1] == "Chart.yaml" and member.isfile():
                    handle = tar.extractfile(member)
                    if handle is None:
                        continue
                    name = declared_name(handle.read(1 << 20))
                    if name is not None:
                        names.add(name)
    except (OSError, tarfile.TarError, EOFError):
        return set()
    return names


def _provided_subcharts(charts_dir: Path) -> tuple[set[str], list[Path]]:
    """Chart names found in ``charts/`` (unpacked dirs and archives) and the unpacked dirs."""
    names: set[str] = set()
    dirs: list[Path] = []
    if not charts_dir.is_dir():
        return names, dirs
    for entry in sorted(charts_dir.iterdir()):
        if entry.is_dir() and (entry / "Chart.yaml").is_file():
            try:
                name = declared_name((entry / "Chart.yaml").read_bytes())
            except OSError:
                continue
            if name is not None:
                names.add(name)
                dirs.append(entry)
        elif entry.is_file() and entry.name.endswith((".tgz", ".tar.gz")):
            names |= _archive_chart_names(entry)
    return names, dirs


def _describe(dep: Mapping[str, Any]) -> str:
    extras = [f"{k} {dep[k]}" for k in ("version", "alias", "condition", "repository") if dep.get(k)]
    return f"{dep['name']}" + (f" ({', '.join(extras)})" if extras else "")


def missing_dependencies(root: Path, chart: Mapping[str, Any] | None = None, top: Path | None = None,
                         ) -> list[str]:
    """Dependencies declared in Chart.yaml (recursively for unpacked subcharts) absent from charts/.

    Why: helm fails every render of such a chart with the same error, and nested missing
    subcharts are silently not rendered at all. Matching is by the subchart's Chart.yaml name,
    as helm does; ``alias`` and ``condition`` only appear in the description. Returns one
    entry per missing dependency, prefixed by the subchart's path below ``top`` when nested.
    """
    top = root if top is None else top
    prefix = "" if root == top else f"{root.relative_to(top)}: "
    doc = dict(chart) if chart is not None else _read_chart_dir(root, str(root / "Chart.yaml"))
    provided, subdirs = _provided_subcharts(root / "charts")
    missing = [f"{prefix}{_describe(dep)}" for dep in doc.get("dependencies") or []
               if dep["name"] not in provided]
    for sub in subdirs:
        try:
            sub_doc = parse_chart_yaml((sub / "Chart.yaml").read_bytes(), str(sub / "Chart.yaml"))
        except (RefarchError, OSError):
            continue
        if sub_doc.get("dependencies"):
            missing.extend(missing_dependencies(sub, sub_doc, top))
    return missing


def _profiles(root: Path) -> dict[str, Path]:
    """``override-<profile>.yaml`` files beside Chart.yaml, by profile name."""
    found = {}
    for entry in sorted(root.iterdir()):
        match = PROFILE_FILE.match(entry.name)
        if match and entry.is_file():
            found[match["profile"]] = entry
    return found


# -- sources -----------------------------------------------------------------------------------

def _safe_unpack(archive: Path, workdir: Path) -> Path:
    """Unpack a ``helm package`` archive under ``workdir`` and return the chart root.

    Absolute and ``..`` member names are refused outright (the ``data`` filter would only strip a
    leading ``/``); the ``data`` filter then refuses links leaving the destination and special
    files; member count and total size are bounded so a crafted archive cannot fill the disk.
    The archive must hold exactly one ``<name>/Chart.yaml``, as ``helm package`` writes.
    """
    hint = ("Pass a chart directory or an archive made by `helm package <chart-dir>`.")
    try:
        tar = tarfile.open(archive, "r:gz")
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise RefarchError(
            f"The chart archive {archive} is not a gzip-compressed tar file ({exc}). {hint}") from None
    with tar:
        try:
            members = tar.getmembers()
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise RefarchError(
                f"The chart archive {archive} is truncated or corrupt ({exc}). {hint}") from None
        if len(members) > MAX_MEMBERS or sum(m.size for m in members) > MAX_UNPACKED_BYTES:
            raise RefarchError(
                f"The chart archive {archive} would unpack to more than {MAX_MEMBERS} files or "
                f"{MAX_UNPACKED_BYTES >> 20} MiB, which helm refuses too (its --max-chart-size). {hint}")
        big = next((m for m in members if m.size > MAX_FILE_BYTES), None)
        if big is not None:
            raise RefarchError(
                f"The chart archive {archive} holds a file of {big.size >> 20} MiB ({big.name[:200]!r}); helm refuses "
                f"files over {MAX_FILE_BYTES >> 20} MiB in a chart (its --max-file-size), so nothing was unpacked. "
                f"{hint}")
        deep = next((m for m in members if len(PurePosixPath(m.name).parts) > MAX_PATH_PARTS), None)
        if deep is not None:
            raise RefarchError(
                f"The chart archive {archive} nests a file {len(PurePosixPath(deep.name).parts)} folders deep "
                f"(at most {MAX_PATH_PARTS} are read), which no chart does, so nothing was unpacked. {hint}")
        unsafe = [m.name for m in members
                  if PurePosixPath(m.name).is_absolute() or ".." in PurePosixPath(m.name).parts]
        if unsafe:
            raise RefarchError(
                f"Refused to unpack the chart archive {archive}: it holds {len(unsafe)} absolute or "
                f"'..' path(s), e.g. {unsafe[0]!r}, that would leave the unpack directory; a "
                f"`helm package` archive never does. {hint}")
        # PurePosixPath drops "." parts, so "./tiny/Chart.yaml" counts as "tiny/Chart.yaml".
        roots = sorted({PurePosixPath(m.name).parts[0] for m in members
                        if m.isfile() and len(PurePosixPath(m.name).parts) == 2
                        and PurePosixPath(m.name).name == "Chart.yaml"})
        if not roots:
            raise RefarchError(
                f"The chart archive {archive} has no <chart>/Chart.yaml at its top level, so it is "
                f"not a packaged Helm chart. {hint}")
        if len(roots) > 1:
            raise RefarchError(
                f"The chart archive {archive} holds several charts ({', '.join(roots)}); pass one "
                f"chart. {hint}")
        dest = Path(tempfile.mkdtemp(prefix="archive-", dir=workdir))
        try:
            _extract(tar, members, dest)
        except (tarfile.TarError, OSError, EOFError, ValueError) as exc:
            raise RefarchError(
                f"Refused to unpack the chart archive {archive}: {exc}. The archive holds a path "
                f"that would leave the unpack directory, a link, or a special file, or it is "
                f"corrupt; a `helm package` archive never does. {hint}") from None
    root = dest / roots[0]
    if not (root / "Chart.yaml").is_file():
        raise RefarchError(f"The chart archive {archive} unpacked without {roots[0]}/Chart.yaml. {hint}")
    return root


def _extract(tar: tarfile.TarFile, members: list[tarfile.TarInfo], dest: Path) -> None:
    """Unpack with the ``data`` filter where Python has it (3.11.4+); on older 3.11 releases
    apply its rules by hand: regular files and directories only, no links, no special files,
    nothing outside ``dest`` (names were checked by the caller)."""
    if hasattr(tarfile, "data_filter"):
        tar.extractall(dest, filter="data")
        return
    for member in members:
        if not (member.isfile() or member.isdir()):
            raise ValueError(f"{member.name!r} is a link or a special file")
        target = (dest / member.name).resolve()
        if not target.is_relative_to(dest.resolve()):
            raise ValueError(f"{member.name!r} would leave the unpack directory")
        member.mode = (member.mode | 0o600) & 0o755 if member.isfile() else 0o755
    tar.extractall(dest, members=members)


def _pull(spec: str, helm: Path, workdir: Path, version: str | None,
          env: Mapping[str, str] | None, timeout: float) -> Path:
    """``helm pull <repo/chart> --untar`` into a directory keyed by reference and version.

    A second call with the same work directory finds the unpacked chart and does not pull
    again, so a session pulls once however often it resolves the chart.
    """
    key = hashlib.sha256(f"{spec}\0{version or ''}".encode()).hexdigest()[:16]
    target = workdir / f"pulled-{key}"
    existing = _single_chart_dir(target)
    if existing is not None:
        return existing
    staging = Path(tempfile.mkdtemp(prefix="pull-", dir=workdir))
    args = ["pull", "--untar", "--untardir", str(staging)]
    if version:
        args += ["--version", version]
    args += ["--", spec]
    runner = Helm(helm, timeout=timeout, env=tuple((env or {}).items()))
    try:
        runner.run(args)
    except HelmFailed as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise RefarchError(
            f"--chart-path {spec!r} is not an existing file or directory, so it was read as a "
            "repo/chart reference, and pulling it failed. If you meant a local chart, check the path; "
            "otherwise add the repository with `helm repo add <name> <url>`, run `helm repo update`, "
            f"and check the chart name and --chart-version.\n{exc}") from None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    chart = _single_chart_dir(staging)
    if chart is None:
        raise RefarchError(
            f"`{command_text([str(helm), *args])}` succeeded but left no single chart directory in "
            f"{staging}. Check that the reference names one chart.")
    try:
        staging.rename(target)
    except OSError:  # a leftover target from an interrupted run: use the fresh pull as is
        return chart
    return target / chart.name


def _single_chart_dir(parent: Path) -> Path | None:
    if not parent.is_dir():
        return None
    charts = [d for d in parent.iterdir() if d.is_dir() and (d / "Chart.yaml").is_file()]
    return charts[0] if len(charts) == 1 else None


def resolve_chart(spec: str, helm: Path, workdir: Path | Callable[[], Path], version: str | None = None,
                  timeout: float = 120, env: Mapping[str, str] | None = None) -> ResolvedChart:
    """Turn ``--chart-path`` into a checked chart directory.

    ``spec`` is a chart directory (used in place, never written), a ``helm package`` archive
    (unpacked under ``workdir``, or the directory it returns when it is a function: a chart
    directory makes none) or, when it is not an existing path and has the form
    ``repo/chart``, a repository reference pulled with ``helm pull`` (``version`` is the
    ``--chart-version`` constraint). For local sources ``version``, when given, must equal the
    chart's version. ``env`` is layered over the process environment for helm (HELM_* homes).
    Raises :class:`RefarchError` with one paragraph for every problem found.
    """
    path = Path(spec).expanduser()
    kind: SourceKind
    if path.is_dir():
        kind, root = "directory", path.resolve()
        if not (root / "Chart.yaml").is_file():
            raise RefarchError(
                f"--chart-path {spec!r} is a directory but not a Helm chart: {root} has no "
                "Chart.yaml. Pass the chart's root directory (the one holding Chart.yaml, e.g. "
                "charts/harness-prod), a `helm package` .tgz, or a repo/chart reference.")
    elif path.is_file():
        if path.name == "Chart.yaml":
            raise RefarchError(
                f"--chart-path {spec!r} names the Chart.yaml file; pass the directory holding it "
                f"({path.resolve().parent}) instead.")
        kind, root = "archive", _safe_unpack(path.resolve(), _workdir(workdir))
    elif path.exists() or os.path.lexists(path):
        raise RefarchError(
            f"--chart-path {spec!r} is neither a directory nor a regular file (or is a broken "
            "link). Pass a chart directory, a `helm package` .tgz, or a repo/chart reference.")
    elif REPO_REFERENCE.match(spec):
        kind, root = "repository", _pull(spec, helm, _workdir(workdir), version, env, timeout)
    else:
        raise RefarchError(
            f"--chart-path {spec!r} does not exist (relative paths start at the current directory, "
            f"{Path.cwd()}). Pass an existing chart directory, a `helm package` .tgz, or a "
            "repository reference of the form repo/chart (after `helm repo add`).")

    where = f"{root / 'Chart.yaml'} (from --chart-path {spec!r})" if kind != "directory" \
        else str(root / "Chart.yaml")
    doc = _read_chart_dir(root, where)
    chart_version = str(doc["version"])
    if version and kind != "repository" and version.lstrip("v") != chart_version.lstrip("v"):
        raise RefarchError(
            f"--chart-version {version} was given, but the chart at {spec!r} is version "
            f"{chart_version}. --chart-version selects a version only for repo/chart references; "
            "drop it, or point --chart-path at the chart of that version.")
    missing = missing_dependencies(root, doc)
    if missing:
        if kind == "directory":
            fix = (f"Run `helm dependency build {root}` (after `helm repo add` for their "
                   "repositories) and retry.")
        else:
            fix = ("Run `helm dependency build` in the chart's source directory, package it again "
                   "with `helm package`, and retry.")
        raise RefarchError(
            f"The chart {doc['name']} from --chart-path {spec!r} declares dependencies that are "
            f"missing from charts/ (neither an unpacked chart nor a .tgz with that name): "
            f"{'; '.join(missing)}. {fix}")
    kube = doc.get("kubeVersion")
    return ResolvedChart(
        dir=root, origin=spec, kind=kind, name=str(doc["name"]), version=chart_version,
        kube_version=str(kube) if kube not in (None, "") else None, profiles=_profiles(root))


def _workdir(workdir: Path | Callable[[], Path]) -> Path:
    workdir = (workdir if isinstance(workdir, Path) else workdir()).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    return workdir
