"""The embedded model chart itself: `helm lint --strict` passes with every profile file."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness_refarch.helm.binary import Helm, find_helm

CHART = Path(__file__).resolve().parents[2] / "charts" / "harness-prod"
PROFILE_FILES = sorted(CHART.glob("override-*.yaml"))


def test_the_chart_ships_four_profile_files() -> None:
    assert len(PROFILE_FILES) == 4


@pytest.mark.parametrize("profile_file", PROFILE_FILES, ids=[f"p{i}" for i in range(len(PROFILE_FILES))])
def test_lint_strict_with_each_profile(profile_file: Path) -> None:
    helm = Helm(find_helm())
    out = helm.run(["lint", "--strict", str(CHART), "--values", str(profile_file),
                    "--set", "global.ci.enabled=true", "--set", "global.cd.enabled=true"])
    assert "0 chart(s) failed" in out


# -- the overlays express each architecture the way the chart reads it (issue 13 item 6) -------------
FIXTURES = CHART.parents[1] / "fixtures"


def _overlay(name: str) -> dict:
    import yaml
    return yaml.safe_load((FIXTURES / "overlays" / f"{name}.yaml").read_text()) or {}


@pytest.mark.parametrize("name", sorted(p.stem for p in (FIXTURES / "overlays").glob("*.yaml")))
def test_overlays_give_bare_hosts_and_tls_by_protocol(name: str) -> None:
    """The released chart prefixes every host with its own scheme (global.database.<db>.protocol):
    a scheme written into hosts renders as redis://rediss://... . TLS comes from the protocol."""
    databases = ((_overlay(name).get("global") or {}).get("database") or {})
    for db, conf in databases.items():
        for host in conf.get("hosts") or []:
            assert "://" not in str(host), f"{name}.yaml global.database.{db}.hosts: {host} has a scheme"
    redis = databases.get("redis") or {}
    if name in ("prod-3-external-cloud", "dr-warm-standby"):  # TLS on every connection
        assert redis.get("protocol") == "rediss"


def _redis_urls(*sets: str) -> set[str]:
    helm = Helm(find_helm())
    args = ["template", "h", str(CHART), "--namespace", "harness", "--set", "global.database.redis.installed=false"]
    for assignment in sets:
        args += ["--set", assignment]
    out = helm.run(args)
    return {line.split(":", 1)[1].strip().strip('"') for line in out.splitlines()
            if line.strip().startswith("EVENTS_FRAMEWORK_REDIS_URL:")}


def test_model_chart_reads_redis_hosts_as_the_released_chart() -> None:
    """Bare hosts get the protocol setting as scheme; a scheme in hosts becomes a double scheme,
    exactly what the released chart renders (so the wiring check sees the same thing on both)."""
    assert _redis_urls("global.database.redis.hosts[0]=cache.example.com:6380",
                       "global.database.redis.protocol=rediss") == {"rediss://cache.example.com:6380"}
    assert _redis_urls("global.database.redis.hosts[0]=cache.example.com:6379") == {"redis://cache.example.com:6379"}
    assert _redis_urls("global.database.redis.hosts[0]=rediss://cache.example.com:6380") == {
        "redis://rediss://cache.example.com:6380"}
