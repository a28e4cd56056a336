"""GitHub Actions workflow commands: one ``::error``/``::warning``/``::notice`` line per root cause,
at most ten of each kind (what GitHub shows per step), then one notice counting the rest.

Printed at the end of a run under GitHub Actions (``GITHUB_ACTIONS=true``) or with
``--refarch-annotations github``; ``--refarch-annotations none`` turns them off. Waived root
causes print nothing. The file is relative to the repository (``GITHUB_WORKSPACE``, else the
working directory) and the line is the values file line that set the failing value, so the
pull request shows the message on that line. Values and properties are escaped as GitHub's
toolkit does (``%``, CR, LF; in properties also ``:`` and ``,``) and every text is masked.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from harness_refarch.model.errors import RefarchError
from harness_refarch.model.redact import mask
from harness_refarch.report.rootcauses import RootCause

COMMAND = {"error": "error", "warning": "warning", "info": "notice"}
MODES = ("github", "none")
PER_KIND = 10  # GitHub shows 10 error, 10 warning and 10 notice annotations per step (50 per job)


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def enabled(mode: str | None, environ: Mapping[str, str]) -> bool:
    """``github`` on, ``none`` off; unset: on under GitHub Actions. RefarchError for other words."""
    if mode is None or mode == "":
        return environ.get("GITHUB_ACTIONS", "").lower() == "true"
    word = str(mode).strip().lower()
    if word not in MODES:
        raise RefarchError(f"--refarch-annotations (or REFARCH_ANNOTATIONS) {str(mode)[:40]!r} must be "
                           "github (print ::error/::warning lines for GitHub Actions) or none.")
    return word == "github"


def lines(causes: Sequence[RootCause], base: Path | None,
          pair_text: Callable[[RootCause], str] | None = None, per_kind: int = PER_KIND) -> list[str]:
    """One workflow command per root cause that is not waived, at most ``per_kind`` of each of
    ``::error``, ``::warning`` and ``::notice`` (the first, most severe first); when some are
    left out, a last ``::notice`` counts them (GitHub drops the rest without saying so)."""
    listed = [rc for rc in causes if not rc.waiver]
    kept: list[RootCause] = []
    per: dict[str, int] = {}
    for rc in listed:
        kind = COMMAND.get(rc.severity, "error")
        if per.get(kind, 0) < per_kind:
            per[kind] = per.get(kind, 0) + 1
            kept.append(rc)
    if len(kept) < len(listed) and per.get("notice", 0) >= per_kind:  # room for the counting notice
        last = max(i for i, rc in enumerate(kept) if COMMAND.get(rc.severity, "error") == "notice")
        del kept[last]
    out = []
    for rc in kept:
        props = []
        if rc.location is not None:
            props.append(f"file={escape_property(rc.location.shown(base))}")
            if rc.location.line:
                props.append(f"line={rc.location.line}")
        title = mask(f"harness-refarch {rc.check} ({rc.severity}): {rc.workload}")
        props.append(f"title={escape_property(title)}")
        pairs = pair_text(rc) if pair_text is not None else ", ".join(rc.pairs)
        note = "" if rc.failing else " (below --refarch-fail-on: not failing)"
        message = mask(f"{rc.describe()}; holds for {pairs}{note}")
        out.append(f"::{COMMAND.get(rc.severity, 'error')} {','.join(props)}::{escape_data(message)}")
    if len(kept) < len(listed):
        title = escape_property("harness-refarch: more root causes")
        text = (f"{len(listed) - len(kept):,} more root cause(s) not annotated: GitHub shows {per_kind} "
                "annotations of each kind per step. The reports (--refarch-report, --refarch-sarif) have "
                "them all, and the job log's root-cause section lists them all under -v.")
        out.append(f"::notice title={title}::{escape_data(text)}")
    return out
