"""Render requests and a session render cache: each distinct render runs helm exactly once.

A :class:`RenderRequest` is a pure value: chart, release, namespace, Kubernetes version and the
ordered ``-f`` layers (user files first, then the architecture overlay, the profile file last,
as Harness documents ``helm install ... -f your-override.yaml -f override-large.yaml``).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from harness_refarch.helm import Helm
from harness_refarch.manifest import Manifest, parse_manifest


@dataclass(frozen=True)
class RenderRequest:
    """Everything that determines one ``helm template`` output."""

    chart: Path
    release: str = "harness"
    namespace: str = "harness"
    kube_version: str = "1.29.0"
    values: tuple[Path, ...] = ()
    sets: tuple[str, ...] = ()
    label: str = field(default="", compare=False)

    def template_args(self) -> list[str]:
        args = ["template", self.release, str(self.chart), "--namespace", self.namespace,
                "--kube-version", self.kube_version]
        for layer in self.values:
            args += ["--values", str(layer)]
        for assignment in self.sets:
            args += ["--set", assignment]
        return args


def render(helm: Helm, request: RenderRequest) -> Manifest:
    """Run ``helm template`` for one request and parse its output."""
    text = helm.run(request.template_args())
    return parse_manifest(text, namespace=request.namespace, source=request.label or None)


class RenderCache:
    """Thread-safe memo of renders; :meth:`prefetch` starts many renders concurrently."""

    def __init__(self, helm: Helm, workers: int = 2) -> None:
        self.helm = helm
        self._futures: dict[RenderRequest, Future[Manifest]] = {}
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=max(1, workers),
                                        thread_name_prefix="helm-render")

    def _future(self, request: RenderRequest) -> Future[Manifest]:
        with self._lock:
            fut = self._futures.get(request)
            if fut is None:
                fut = self._pool.submit(render, self.helm, request)
                self._futures[request] = fut
            return fut

    def prefetch(self, requests: Iterable[RenderRequest]) -> None:
        for request in requests:
            self._future(request)

    def get(self, request: RenderRequest) -> Manifest:
        """The parsed manifest for ``request``; raises the render's error if helm failed."""
        return self._future(request).result()

    @property
    def renders(self) -> int:
        return len(self._futures)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
