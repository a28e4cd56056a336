"""Locate and run a real helm binary.

Lookup order: ``--helm PATH``, then ``$HELM_BIN``, then ``helm`` on PATH, then the pinned helm
that ``harness-refarch-install-helm`` put in the user cache. Every call takes an argument list
(never a shell) and a failure raises :class:`HelmFailed` naming the command and quoting stderr.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from harness_refarch import install_helm
from harness_refarch.errors import HelmFailed, HelmNotFound

INSTALL_HINT = (
    "Install helm (https://helm.sh/docs/intro/install/) and put it on PATH, pass --helm PATH, "
    "set HELM_BIN, or run `harness-refarch-install-helm` to fetch a pinned, checksum-verified "
    "helm into your user cache."
)


def find_helm(explicit: str | None = None, environ: dict[str, str] | None = None) -> Path:
    """Return the helm binary to use, following the documented lookup order."""
    env = os.environ if environ is None else environ
    for origin, candidate in (("--helm", explicit), ("HELM_BIN", env.get("HELM_BIN"))):
        if candidate:
            resolved = shutil.which(candidate) or (candidate if Path(candidate).is_file() else None)
            if resolved is None or not os.access(resolved, os.X_OK):
                raise HelmNotFound(
                    f"The helm binary given by {origin} ({candidate}) does not exist or is not "
                    f"executable. Point {origin} at a helm v3 or v4 executable. {INSTALL_HINT}"
                )
            return Path(resolved)
    on_path = shutil.which("helm", path=env.get("PATH"))
    if on_path:
        return Path(on_path)
    for major in (install_helm.DEFAULT_MAJOR, *sorted(install_helm.PINNED)):
        cached = install_helm.installed_path(major)
        if cached.is_file() and os.access(cached, os.X_OK):
            return cached
    raise HelmNotFound(f"No helm binary found (looked at --helm, $HELM_BIN, PATH and "
                       f"{install_helm.cache_dir()}). {INSTALL_HINT}")


@dataclass(frozen=True)
class Helm:
    """A helm executable; methods map one-to-one to helm sub-commands."""

    binary: Path
    timeout: float = 300.0

    def run(self, args: Sequence[str]) -> str:
        cmd = [str(self.binary), *args]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=self.timeout,
                                  check=False)
        except FileNotFoundError as exc:
            raise HelmNotFound(f"Could not execute {self.binary}: {exc}. {INSTALL_HINT}") from exc
        except subprocess.TimeoutExpired as exc:
            raise HelmFailed(f"`{_quote(cmd)}` did not finish within {self.timeout:.0f}s.") from exc
        if proc.returncode != 0:
            raise HelmFailed(
                f"`{_quote(cmd)}` failed with exit code {proc.returncode}. helm said:\n"
                f"{proc.stderr.strip() or proc.stdout.strip()}"
            )
        return proc.stdout

    @cached_property
    def version(self) -> str:
        """helm's semantic version, e.g. ``v4.1.4``."""
        out = self.run(["version", "--template", "{{ .Version }}"]).strip()
        match = re.search(r"v\d+\.\d+\.\d+\S*", out)
        return match.group(0) if match else out

    @property
    def major(self) -> int:
        return int(self.version.lstrip("v").split(".")[0])


def _quote(cmd: Sequence[str]) -> str:
    return " ".join(c if c and " " not in c else repr(c) for c in cmd)
