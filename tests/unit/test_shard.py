"""``--refarch-shard K/N`` (issue 17 item 5): every pair in exactly one shard, balanced, and the
union of the shards collects exactly the tests of one run, with the same ids."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness_refarch.engine import shard
from harness_refarch.engine.session import Options, RefarchSession
from harness_refarch.model.errors import RefarchError

REPO = Path(__file__).resolve().parents[2]
CONFORMANCE = REPO / "tests" / "conformance"


# -- the split itself ------------------------------------------------------------------------------------
@pytest.mark.parametrize(("text", "expected"), [("2/4", shard.Shard(2, 4)), (" 3 / 8 ", shard.Shard(3, 8)),
                                                 ("1/1", shard.Shard(1, 1)), ("", None), (None, None)])
def test_a_shard_is_k_of_n(text: str | None, expected: shard.Shard | None) -> None:
    assert shard.parse(text) == expected


@pytest.mark.parametrize("text", ["0/4", "5/4", "abc", "1/0", "1/4/2", "-1/4", "1.5/4", "4", "1/100000"])
def test_anything_else_is_one_paragraph(text: str) -> None:
    with pytest.raises(RefarchError, match=r"--refarch-shard \(or REFARCH_SHARD\) .* is not a shard K/N") as exc:
        shard.parse(text)
    assert "\n" not in str(exc.value) and "harness-refarch merge" in str(exc.value)


def _work(n: int, cost: int = 300) -> list[shard.Work]:
    return [shard.Work(f"p{i}", {f"render p{i}": cost}) for i in range(n)]


def test_every_pair_in_exactly_one_shard_and_the_same_split_every_time() -> None:
    work = [*_work(13), shard.Work("big", {"render big": 900, "standby big": 100})]
    for count in range(1, len(work) + 1):
        shards = shard.assign(work, count)
        owned = [p for s in shards for p in s]
        assert sorted(owned) == sorted(w.pair for w in work) and all(shards), count
        assert shards == shard.assign(list(work), count)
    loads = shard.loads(_work(12), shard.assign(_work(12), 4))
    assert loads == [900, 900, 900, 900]


def test_pairs_sharing_renders_go_together_when_that_stays_balanced() -> None:
    """Two architectures of three pairs, each pair reading its architecture's representative: two
    shards hold one architecture each rather than paying the representative twice."""
    work = [shard.Work(f"{arch}-{i}", {f"render {arch}-{i}": 200, f"render {arch}-0": 200, f"repeat {arch}-0": 100})
            for arch in ("a", "b") for i in range(3)]
    shards = shard.assign(work, 2)
    assert sorted(map(sorted, shards)) == [["a-0", "a-1", "a-2"], ["b-0", "b-1", "b-2"]]


@pytest.fixture(scope="module")
def session(real_helm: Path) -> RefarchSession:
    rs = RefarchSession(Options(chart=REPO / "charts" / "harness-prod", fixtures=REPO / "fixtures",
                                helm=str(real_helm), cache=False))
    yield rs  # type: ignore[misc]
    rs.close()


def test_the_embedded_matrix_splits_evenly(session: RefarchSession) -> None:
    whole = shard.plan(session, 1)[1][0]
    for count in range(1, len(session.pairs) + 1):
        members, loads = shard.plan(session, count)
        owned = [p.id for s in members for p in s]
        assert sorted(owned) == sorted(p.id for p in session.pairs) and all(members), count
        if count <= 4:
            assert max(loads) <= 1.25 * whole / count, (count, loads)
    with pytest.raises(RefarchError, match="use at most 16 shards"):
        shard.for_session("17/17", session)


# -- end to end: collection -------------------------------------------------------------------------------
def _pytest(cache: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("REFARCH_", "ATS_", "PYTEST_")) and k != "HELM_BIN"}
    env.update(PYTHONDONTWRITEBYTECODE="1", HARNESS_REFARCH_CACHE=str(cache))
    for arg in args:
        if arg.startswith("REFARCH_SHARD="):
            env["REFARCH_SHARD"] = arg.split("=", 1)[1]
    cmd = [sys.executable, "-m", "pytest", str(CONFORMANCE), "--rootdir", str(REPO), "-p", "no:cacheprovider",
           *(a for a in args if not a.startswith("REFARCH_SHARD="))]
    return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, errors="replace",
                          timeout=600, check=False)


def _collected(cache: Path, helm: Path, *args: str) -> list[str]:
    proc = _pytest(cache, "--collect-only", "-q", "--refarch-helm", str(helm), *args)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    return [line for line in proc.stdout.splitlines() if "::" in line]


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("shard-cache")


@pytest.mark.parametrize("narrowing", [(), ("-k", "large or demo-demo or jvm")], ids=["whole matrix", "-k"])
def test_the_shards_together_collect_exactly_one_runs_tests(cache: Path, real_helm: Path,
                                                           narrowing: tuple[str, ...]) -> None:
    one = _collected(cache, real_helm, *narrowing)
    shards = [_collected(cache, real_helm, "--refarch-shard", f"{k}/4", *narrowing) for k in range(1, 5)]
    union = [test for tests in shards for test in tests]
    assert all(shards) and len(union) == len(set(union))  # disjoint
    assert sorted(union) == sorted(one) and len(one) > 100
    deterministic = [t for t in union if "test_deterministic[" in t]
    assert sorted(deterministic) == sorted(t for t in one if "test_deterministic[" in t) and deterministic


@pytest.mark.parametrize("given", ["--refarch-shard=0/4", "--refarch-shard=5/4", "REFARCH_SHARD=abc",
                                   "--refarch-shard=17/16"])
def test_a_bad_shard_is_one_paragraph_and_exit_4(cache: Path, real_helm: Path, given: str) -> None:
    proc = _pytest(cache, "--refarch-helm", str(real_helm), given)
    assert proc.returncode == 4, proc.stdout[-2000:] + proc.stderr[-2000:]
    errors = [line for line in (proc.stdout + proc.stderr).splitlines() if line.startswith("ERROR: harness-refarch:")]
    assert len(errors) == 1 and "--refarch-shard" in errors[0], proc.stdout + proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr


def test_a_shard_says_which_pairs_it_ran(cache: Path, real_helm: Path) -> None:
    proc = _pytest(cache, "--refarch-helm", str(real_helm), "--refarch-shard", "3/4", "-q",
                   "--refarch-profile", "demo", "--refarch-profile", "small")
    assert proc.returncode == 0, proc.stdout[-3000:]
    line = next(li for li in proc.stdout.splitlines() if li.startswith("harness-refarch: shard 3/4: "))
    assert " of 6 pairs (estimated " in line
    assert " deselected" in proc.stdout.splitlines()[-1] and " skipped" not in proc.stdout.splitlines()[-1]
