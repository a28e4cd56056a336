"""Render requests and a session render cache: each distinct render runs helm exactly once.

A :class:`RenderRequest` is a pure value: chart, release, namespace, Kubernetes version and the
ordered ``-f`` layers (the architecture overlay, then the user's files, then the profile file,
then ``--set``, as Harness documents ``helm install ... -f your-override.yaml -f override-large.yaml``).

A failed render is stored as a :class:`RenderFailure` value, not as an exception object: every
test that needs it gets a fresh one-line error pointing at the one full message, so a broken
template cannot multiply tracebacks.
"""

from __future__ import annotations

import dataclasses
import re
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from harness_refarch.helm.binary import Helm, command_lines, command_text
from harness_refarch.helm.parse import canonical_render
from harness_refarch.helm.store import RenderStore
from harness_refarch.model.errors import HelmFailed, RefarchError, failure_text
from harness_refarch.model.manifest import PROCESS_KEY, Manifest

T = TypeVar("T")


@dataclass(frozen=True)
class RenderRequest:
    """Everything that determines one ``helm template`` output."""

    chart: Path
    release: str = "harness"
    namespace: str = "harness"
    kube_version: str = "1.29.0"
    values: tuple[Path, ...] = ()
    sets: tuple[str, ...] = ()
    repeat: int = 0  # a second render of identical inputs (determinism check): same args, own cache slot
    label: str = field(default="", compare=False)

    def template_args(self) -> list[str]:
        """helm arguments; every user-supplied value is glued to its flag or placed after ``--``
        so that nothing a user passes can be read by helm as a flag of its own."""
        args = ["template", f"--namespace={self.namespace}", f"--kube-version={self.kube_version}"]
        args += [f"--values={layer}" for layer in self.values]
        args += [f"--set={assignment}" for assignment in self.sets]
        return [*args, "--", self.release, str(self.chart)]

    def lint_args(self) -> list[str]:
        """``helm lint --strict`` of the same values stack (same layers, same --set)."""
        args = ["lint", "--strict", f"--namespace={self.namespace}", f"--kube-version={self.kube_version}"]
        args += [f"--values={layer}" for layer in self.values]
        args += [f"--set={assignment}" for assignment in self.sets]
        return [*args, "--", str(self.chart)]

    def describe(self, helm: Helm | None = None) -> str:
        """The command a user can paste to reproduce this render (Secret ``--set`` values masked)."""
        return command_text([str(helm.binary) if helm else "helm", *self.template_args()])


class RenderFailed(RefarchError):
    """A render could not be produced; ``root`` is the full (bounded) explanation."""

    def __init__(self, label: str, root: str) -> None:
        super().__init__(f"render {label} failed: {root}")
        self.label = label
        self.root = root


_EXIT = re.compile(r"failed with exit code (-?\d+)")
_TRANSIENT = ("Could not start", "was not started", "did not finish within", "was stopped")


@dataclass(frozen=True)
class RenderFailure:
    """Why a render failed (the suite's words, never cut), the command that reproduces it and
    helm's bounded output: kept apart so that grouping and caps never touch the reason."""

    label: str
    reason: str
    command: str = ""
    output: str = ""

    @property
    def message(self) -> str:
        return failure_text(self.reason, self.command, self.output)

    @property
    def transient(self) -> bool:
        """The failure says nothing about the inputs: helm could not start, hung, was stopped, or
        died of a crash or a signal. A chart error is helm's own exit status 1 (or output that
        does not parse), and rendering the same inputs again fails the same way."""
        status = _EXIT.search(self.reason)
        if status is not None:
            return status.group(1) != "1"
        return any(word in self.reason for word in _TRANSIENT)

    @property
    def cause(self) -> tuple[str, str]:
        """What renders failing for one root cause share (their commands differ)."""
        return self.reason, self.output


@dataclass(frozen=True)
class RenderResult:
    """What the cache holds per request: a manifest or a failure, how long it took, and
    whether it came from the on-disk render store."""

    manifest: Manifest | None
    failure: RenderFailure | None
    seconds: float
    label: str = ""
    cached: bool = False


def render(helm: Helm, request: RenderRequest, key: bytes = PROCESS_KEY) -> Manifest:
    """Run ``helm template`` for one request and parse its output into the representation the
    render store keeps (:func:`~harness_refarch.helm.store.canonical`), cache or not."""
    text = helm.run(request.template_args())
    return canonical_render(text, request.namespace, request.label or None, key)


def _store_key(helm: Helm, request: RenderRequest, store: RenderStore) -> str:
    return store.key(request.chart, request.values, request.sets, request.release, request.namespace,
                     request.kube_version, helm.identity, request.repeat)


def _render_result(helm: Helm, request: RenderRequest, store: RenderStore | None) -> RenderResult:
    start = time.perf_counter()
    label = request.label or str(request.chart)
    cached = False
    try:
        if store is None:
            manifest = render(helm, request)
        else:
            manifest, cached = store.get_or_render(_store_key(helm, request, store), label,
                                                   lambda: render(helm, request, store.digest_key))
    except HelmFailed as exc:
        failure = RenderFailure(label, exc.reason, exc.command, exc.output)
        return RenderResult(None, failure, time.perf_counter() - start, label)
    except RefarchError as exc:  # helm's output could not be parsed
        failure = RenderFailure(label, str(exc), command_lines([str(helm.binary), *request.template_args()]))
        return RenderResult(None, failure, time.perf_counter() - start, label)
    except OSError as exc:  # the store's directory or a values file vanished mid-run
        return RenderResult(None, RenderFailure(label, f"{type(exc).__name__}: {exc.strerror or exc}"),
                            time.perf_counter() - start, label)
    return RenderResult(manifest, None, time.perf_counter() - start, label, cached)


class RenderCache:
    """Thread-safe memo of renders; :meth:`prefetch` starts many renders concurrently."""

    def __init__(self, helm: Helm, workers: int = 2, store: RenderStore | None = None) -> None:
        workers = max(1, workers)
        # ``workers`` helm processes at most, twice as many threads: while a thread parses and
        # stores one render (Python work), another already runs the next helm call
        self.helm = dataclasses.replace(helm, slots=threading.BoundedSemaphore(workers))
        self.store = store
        self._futures: dict[RenderRequest, Future[RenderResult]] = {}
        self._others: dict[object, Future[Any]] = {}
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=2 * workers, thread_name_prefix="helm-render")

    def _future(self, request: RenderRequest) -> Future[RenderResult]:
        with self._lock:
            fut = self._futures.get(request)
            if fut is None:
                fut = self._pool.submit(_render_result, self.helm, request, self.store)
                self._futures[request] = fut
            return fut

    def submit(self, key: object, fn: Callable[[], T]) -> Future[T]:
        """Run any other helm job (``helm lint``) on the same pool, memoised by ``key``."""
        with self._lock:
            fut = self._others.get(key)
            if fut is None:
                fut = self._pool.submit(fn)
                self._others[key] = fut
            return fut

    def prefetch(self, requests: Iterable[RenderRequest]) -> None:
        for request in requests:
            self._future(request)

    def stored(self, request: RenderRequest) -> bool:
        """Whether the store has an entry for ``request``, without reading it (a damaged entry is
        rendered again by whoever reads it)."""
        return self.store is not None and self.store.has(_store_key(self.helm, request, self.store))

    def result(self, request: RenderRequest) -> RenderResult:
        return self._future(request).result()

    def get(self, request: RenderRequest) -> Manifest:
        """The parsed manifest for ``request``; a fresh :class:`RenderFailed` if it failed."""
        result = self.result(request)
        if result.failure is not None:
            raise RenderFailed(result.failure.label, result.failure.message)
        assert result.manifest is not None
        return result.manifest

    def done(self) -> list[RenderResult]:
        """Finished renders (never waits), for progress lines and the summary."""
        with self._lock:
            futures = list(self._futures.values())
        return [f.result() for f in futures if f.done() and not f.cancelled()]

    @property
    def renders(self) -> int:
        return len(self._futures)

    def close(self, wait: bool = True) -> None:
        self._pool.shutdown(wait=wait, cancel_futures=True)
