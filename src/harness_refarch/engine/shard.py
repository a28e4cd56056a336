"""``--refarch-shard K/N``: which (profile, architecture) pairs one of N CI machines runs.

The pairs of the run's matrix are split into N shards of about the same estimated work, every
pair in exactly one shard. The split is a function of the inputs alone (the catalogue, the
chart's profile files and the golden files in the repository), never of a machine's cache or
clock, so every machine of a CI matrix computes the same split.

A pair's work, in helm calls (the unit) and checks:

* its render and its ``helm lint``, and its DR standby render where the architecture has one;
* its checks, about one unit per ten workloads (per-workload tests dominate the Python work;
  the workloads are counted in the pair's golden file, the same file on every machine);
* renders it reads that belong to other pairs: the previous profile's render (the
  capacity-not-below-previous test) and the two renders of its architecture's representative
  (the determinism check learns from them what helm generates, and every golden and DR
  comparison of the architecture uses it).

A shard runs the union of its pairs' jobs, so a render shared by two pairs of one shard is paid
once: the assignment (longest first, each pair to the shard it makes least loaded) puts pairs
that share renders together when that keeps the shards balanced, and pays a render twice when
it does not.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from harness_refarch.engine.session import RefarchSession
from harness_refarch.model.catalog import Pair
from harness_refarch.model.errors import RefarchError

HELM_CALL = 100  # one helm call (template or lint): the unit, in hundredths
PER_WORKLOAD = 10  # the checks of one workload: about a tenth of a helm call on the embedded chart
DEFAULT_WORKLOADS = 30  # a pair without a readable golden file: the median of those that have one, else this
MAX_SHARDS = 10_000


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` (1-based) of ``count``."""

    index: int
    count: int

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def parse(text: object) -> Shard | None:
    """``"2/4"`` -> Shard(2, 4); None or empty -> None; anything else is one paragraph."""
    if text is None or str(text).strip() == "":
        return None
    raw = str(text).strip()
    match = re.fullmatch(r"(\d{1,5})\s*/\s*(\d{1,5})", raw)
    if match is None or not 1 <= int(match.group(1)) <= int(match.group(2)) <= MAX_SHARDS:
        raise RefarchError(
            f"--refarch-shard (or REFARCH_SHARD) {raw[:40]!r} is not a shard K/N: give two whole numbers with "
            f"1 <= K <= N (at most {MAX_SHARDS:,}), e.g. --refarch-shard 2/4 runs the second of four shards. Run "
            "every K from 1 to N (one CI job each), each with --refarch-report shard-K.json, and combine them "
            "with `harness-refarch merge shard-*.json --refarch-report report.html`.")
    return Shard(int(match.group(1)), int(match.group(2)))


@dataclass(frozen=True)
class Work:
    """What running one pair's tests costs: each job by name, with its cost. Jobs of the pair's
    own (``own``) plus renders of other pairs it reads (shared with the shard that holds them)."""

    pair: str
    jobs: Mapping[str, int]

    @property
    def total(self) -> int:
        return sum(self.jobs.values())


def render_job(pair_id: str) -> str:
    return f"render {pair_id}"


def pair_work(pairs: Sequence[Pair], workloads: Callable[[Pair], int | None],
              previous: Callable[[Pair], Pair | None]) -> list[Work]:
    """The jobs of each pair (see the module's docstring), in catalogue order."""
    counted = {p.id: workloads(p) for p in pairs}
    known = [n for n in counted.values() if n is not None]
    fallback = int(statistics.median(known)) if known else DEFAULT_WORKLOADS
    first: dict[str, Pair] = {}
    for p in pairs:
        first.setdefault(p.architecture.name, p)
    out = []
    for p in pairs:
        n = counted[p.id]
        n = fallback if n is None else n
        dr = p.architecture.standby_overlay is not None
        jobs = {render_job(p.id): HELM_CALL, f"lint {p.id}": HELM_CALL,
                f"checks {p.id}": PER_WORKLOAD * n * (2 if dr else 1)}
        if dr:
            jobs[f"standby {p.id}"] = HELM_CALL
        rep = first[p.architecture.name]
        jobs[render_job(rep.id)] = HELM_CALL
        jobs[f"repeat {rep.id}"] = HELM_CALL
        before = previous(p)
        if before is not None:
            jobs[render_job(before.id)] = HELM_CALL
        out.append(Work(p.id, jobs))
    return out


def assign(work: Sequence[Work], count: int) -> list[list[str]]:
    """Pair ids per shard (each list in the order of ``work``): every pair in exactly one shard.

    Longest processing time first: the pairs by their whole cost, largest first (ties in
    ``work`` order), each to the shard whose cost it raises least, counting the jobs the shard
    already runs (ties: the less loaded shard, then the lower index). Then pairs are moved or
    swapped out of the most loaded shard while that lowers the largest shard cost (or, at equal
    largest, the total). Deterministic: integers and fixed orders only."""
    position = {w.pair: i for i, w in enumerate(work)}
    by_id = {w.pair: w for w in work}
    jobs: list[dict[str, int]] = [{} for _ in range(count)]
    load = [0] * count
    members: list[list[str]] = [[] for _ in range(count)]
    for w in sorted(work, key=lambda w: (-w.total, position[w.pair])):
        def raised(i: int, w: Work = w) -> tuple[int, int, int]:
            extra = sum(cost for job, cost in w.jobs.items() if job not in jobs[i])
            return load[i] + extra, load[i], i
        best = min(range(count), key=raised)
        load[best] = raised(best)[0]
        jobs[best].update(w.jobs)
        members[best].append(w.pair)
    return [sorted(m, key=position.__getitem__) for m in _improve(members, by_id, position)]


def _cost(pair_ids: Sequence[str], by_id: Mapping[str, Work]) -> int:
    union: dict[str, int] = {}
    for pair_id in pair_ids:
        union.update(by_id[pair_id].jobs)
    return sum(union.values())


def _improve(members: list[list[str]], by_id: Mapping[str, Work], position: Mapping[str, int],
             rounds: int = 200) -> list[list[str]]:
    """Moves and swaps out of the most loaded shard, best first, while (largest cost, total cost)
    goes down; at most ``rounds`` of them (each round tries every move and swap once)."""
    members = [sorted(m, key=position.__getitem__) for m in members]
    load = [_cost(m, by_id) for m in members]
    for _ in range(rounds):
        worst = max(range(len(members)), key=lambda i: (load[i], -i))
        score = (max(load), sum(load))
        best: tuple[tuple[int, int], int, str, str | None] | None = None
        for other in range(len(members)):
            if other == worst:
                continue
            for a in members[worst]:
                for b in [None, *members[other]]:
                    here = [p for p in members[worst] if p != a] + ([b] if b else [])
                    there = [p for p in members[other] if p != b] + [a]
                    if not here:
                        continue  # a shard never empties (every shard runs something)
                    new = list(load)
                    new[worst], new[other] = _cost(here, by_id), _cost(there, by_id)
                    candidate = (max(new), sum(new))
                    if candidate < score and (best is None or candidate < best[0]):
                        best = (candidate, other, a, b)
        if best is None:
            break
        _, other, a, b = best
        members[worst] = sorted([p for p in members[worst] if p != a] + ([b] if b else []), key=position.__getitem__)
        members[other] = sorted([p for p in members[other] if p != b] + [a], key=position.__getitem__)
        load[worst], load[other] = _cost(members[worst], by_id), _cost(members[other], by_id)
    return members


def loads(work: Sequence[Work], shards: Sequence[Sequence[str]]) -> list[int]:
    """The estimated cost of each shard: the union of its pairs' jobs."""
    by_id = {w.pair: w for w in work}
    return [_cost(members, by_id) for members in shards]


def golden_workloads(path: Path) -> int | None:
    """How many workloads a golden file records (None: no readable golden file)."""
    from harness_refarch.checks import golden

    try:
        doc = golden.load(path)
    except RefarchError:
        return None
    return len(doc.get("workloads") or {}) if doc is not None else None


def plan(rs: RefarchSession, count: int, pairs: Sequence[Pair] | None = None) -> tuple[list[list[Pair]], list[int]]:
    """The pairs of each of ``count`` shards of ``pairs`` (default: ``rs``'s matrix), and each
    shard's estimated cost."""
    pairs = rs.pairs if pairs is None else pairs
    work = pair_work(pairs, lambda p: golden_workloads(rs.catalog.golden_path(p)), rs.previous)
    shards = assign(work, count)
    by_id = {p.id: p for p in pairs}
    return [[by_id[i] for i in members] for members in shards], loads(work, shards)


def for_session(text: object, rs: RefarchSession) -> Shard | None:
    """The shard ``text`` names for ``rs``'s matrix: no more shards than pairs (a shard without
    pairs would run nothing, and its CI job would look like a pass)."""
    shard = parse(text)
    if shard is not None and shard.count > len(rs.pairs):
        raise RefarchError(
            f"--refarch-shard {shard} splits the matrix into {shard.count} shards, but this run has "
            f"{len(rs.pairs)} (profile, architecture) pair(s): use at most {len(rs.pairs)} shards (every shard "
            "runs at least one pair).")
    return shard
