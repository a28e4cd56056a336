"""Locate and run a real helm binary.

Lookup order: ``--refarch-helm PATH``, then ``$HELM_BIN``, then ``helm`` on PATH, then the pinned
helm that ``harness-refarch-install-helm`` put in the user cache. Every call takes an argument list
(never a shell), runs in its own session so that a timeout or Ctrl-C kills helm and every child it
started, and a failure raises :class:`HelmFailed` naming the command and quoting helm's stderr,
bounded so that a runaway helm cannot flood the terminal or the JUnit file.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from harness_refarch.helm import install as install_helm
from harness_refarch.model.errors import HelmFailed, HelmNotFound
from harness_refarch.model.files import cache_dir
from harness_refarch.model.redact import mask_set

INSTALL_HINT = (
    "Install helm (https://helm.sh/docs/intro/install/) and put it on PATH, pass --refarch-helm PATH, "
    "set HELM_BIN, or run `harness-refarch-install-helm` to fetch a pinned, checksum-verified "
    "helm into your user cache."
)
DEFAULT_TIMEOUT = 120.0
# helm is a Go program, whose garbage collector runs each time the heap doubles (GOGC=100). A
# render allocates much short-lived memory: collecting when it grows fivefold takes about 15% less
# CPU and time per render of the released chart, for about twice the peak memory (~300 MB there).
# The output is the same. A GOGC or GOMEMLIMIT of the user's own environment is kept.
GO_GC = "400"
MIN_VERSION = (3, 8)
_LINE_CAP = 400  # characters per quoted line: one 20 MB line must not become 20 MB of output
_RETRIABLE_ERRNO = {14, 11, 4}  # EFAULT, EAGAIN, EINTR: seen as transient when starting helm


def bounded(text: str, head: int = 40, tail: int = 40, max_line: int = _LINE_CAP) -> str:
    """The first ``head`` and last ``tail`` lines of ``text``, each cut to a sane width.

    Used for every quote of helm output: helm's stderr can be megabytes (a template looping over
    an error), and one root cause must stay one readable message.
    """
    lines = text.strip().splitlines()

    def cap(line: str) -> str:
        return line if len(line) <= max_line else f"{line[:max_line]}... [{len(line) - max_line} characters cut]"

    if len(lines) <= head + tail:
        return "\n".join(cap(line) for line in lines)
    omitted = len(lines) - head - tail
    return "\n".join([*(cap(line) for line in lines[:head]), f"... [{omitted} lines omitted] ...",
                      *(cap(line) for line in lines[len(lines) - tail:])])


def find_helm(explicit: str | None = None, environ: dict[str, str] | None = None) -> Path:
    """Return the helm binary to use, following the documented lookup order."""
    env = os.environ if environ is None else environ
    for origin, candidate in (("--refarch-helm", explicit), ("HELM_BIN", env.get("HELM_BIN"))):
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
            install_helm.verify_installed(major)
            return cached
    raise HelmNotFound(f"No helm binary found (looked at --refarch-helm, $HELM_BIN, PATH and "
                       f"{cache_dir()}). {INSTALL_HINT}")


class _Running:
    """The helm processes in flight, so that Ctrl-C can kill every one of them at once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._procs: set[subprocess.Popen[bytes]] = set()
        self.interrupted = False
        self.timed_out: set[Path] = set()  # a helm that hung once hangs again: fail the rest fast

    def add(self, proc: subprocess.Popen[bytes]) -> None:
        with self._lock:
            self._procs.add(proc)

    def discard(self, proc: subprocess.Popen[bytes]) -> None:
        with self._lock:
            self._procs.discard(proc)

    def kill_all(self) -> None:
        self.interrupted = True
        with self._lock:
            procs = list(self._procs)
        for proc in procs:
            kill_group(proc)


RUNNING = _Running()  # the process's helm children: signals are per process, so is this registry


def _terminated(signum: int, frame: object) -> None:
    RUNNING.kill_all()  # helm did not get the signal: only this process did
    raise KeyboardInterrupt


def interrupt_on_terminate() -> Callable[[], None]:
    """Make SIGTERM (a cancelled CI job, ``timeout``) end the run as Ctrl-C does: helm killed
    with its children, work directories removed, instead of the process vanishing with an
    unpacked chart left in /tmp. Returns what puts the previous handler back. Nothing changes
    outside the main thread or when SIGTERM already has a handler of someone else."""
    if threading.current_thread() is not threading.main_thread() \
            or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        return lambda: None
    signal.signal(signal.SIGTERM, _terminated)

    def restore() -> None:
        if signal.getsignal(signal.SIGTERM) is _terminated:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
    return restore


def kill_group(proc: subprocess.Popen[bytes]) -> None:
    """Kill helm and everything it started (it runs in its own session, pgid == pid)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def command_text(cmd: Sequence[str]) -> str:
    """The command as a user could paste it, with Secret-bearing ``--set`` values masked."""
    shown = []
    for arg in cmd:
        if arg.startswith("--set="):
            arg = "--set=" + mask_set(arg[len("--set="):])
        shown.append(arg if arg and not any(c in arg for c in " '\"$") else repr(arg))
    return " ".join(shown)


def _relative(path: str) -> str:
    """``path`` relative to the working directory when it lies below it (shorter to read)."""
    if not path.startswith("/"):
        return path
    try:
        return str(Path(path).relative_to(Path.cwd()))
    except (ValueError, OSError):
        return path


def command_lines(cmd: Sequence[str]) -> str:
    """The command as a user could paste it, one argument per line (``--`` and what follows it
    on the last), paths relative to the working directory where possible, Secret ``--set``
    values masked. Long paths then lengthen lines of their own, never the reason before them."""
    shown: list[str] = []
    for arg in cmd:
        flag, eq, value = arg.partition("=")
        arg = f"{flag}={_relative(value)}" if eq and flag.startswith("--") else _relative(arg)
        shown.append(command_text([arg]))
    if "--" in shown:
        cut = shown.index("--")
        shown = [*shown[:cut], " ".join(shown[cut:])]
    if len(shown) > 1 and not shown[1].startswith("-"):  # helm template
        shown = [" ".join(shown[:2]), *shown[2:]]
    return " \\\n  ".join(shown)


def go_environment(env: dict[str, str]) -> dict[str, str]:
    """``env`` for a helm process: :data:`GO_GC` unless it sets the Go collector itself."""
    return env if "GOGC" in env or "GOMEMLIMIT" in env else {**env, "GOGC": GO_GC}


def _subcommand(cmd: Sequence[str]) -> str:
    return f"helm {cmd[1]}" if len(cmd) > 1 and not cmd[1].startswith("-") else "helm"


@dataclass(frozen=True)
class Helm:
    """A helm executable; methods map one-to-one to helm sub-commands."""

    binary: Path
    timeout: float = DEFAULT_TIMEOUT
    env: tuple[tuple[str, str], ...] | None = field(default=None, compare=False)
    # at most this many helm processes at once, however many threads ask (the render pool
    # parses one render while helm makes the next); the timeout counts from helm's start
    slots: threading.Semaphore | None = field(default=None, compare=False)

    def _start(self, cmd: list[str]) -> subprocess.Popen[bytes]:
        env = go_environment({**os.environ, **dict(self.env or ())})
        for attempt in (1, 2):
            try:
                return subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, start_new_session=True, env=env)
            except FileNotFoundError as exc:
                raise HelmNotFound(f"Could not execute {self.binary}: {exc.strerror}. {INSTALL_HINT}") from None
            except PermissionError as exc:
                raise HelmNotFound(f"Could not execute {self.binary}: {exc.strerror}. {INSTALL_HINT}") from None
            except OSError as exc:
                if attempt == 2 or exc.errno not in _RETRIABLE_ERRNO:
                    raise HelmFailed(f"Could not start {_subcommand(cmd)}: [Errno {exc.errno}] "
                                     f"{exc.strerror} (retried once).", command_lines(cmd)) from None
                time.sleep(0.2)
        raise AssertionError("unreachable")  # pragma: no cover

    def run(self, args: Sequence[str]) -> str:
        if self.slots is None:
            return self._run(args)
        with self.slots:
            return self._run(args)

    def _run(self, args: Sequence[str]) -> str:
        cmd = [str(self.binary), *args]
        if self.binary in RUNNING.timed_out:
            raise HelmFailed(f"{_subcommand(cmd)} was not started: an earlier call of this helm timed out "
                             "(see the failure that says how long it waited).")
        if RUNNING.interrupted:
            raise HelmFailed(f"{_subcommand(cmd)} was not started: the run was interrupted.")
        proc = self._start(cmd)
        RUNNING.add(proc)
        try:
            out, err = proc.communicate(timeout=self.timeout)
        except subprocess.TimeoutExpired:
            RUNNING.timed_out.add(self.binary)
            kill_group(proc)
            proc.communicate()
            raise HelmFailed(f"{_subcommand(cmd)} did not finish within {self.timeout:g} s and was "
                             "killed with every process it started. Raise --refarch-render-timeout if "
                             "the chart is just slow.", command_lines(cmd)) from None
        finally:
            RUNNING.discard(proc)
            if proc.poll() is None:  # interrupted while waiting: leave no orphan behind
                kill_group(proc)
        if RUNNING.interrupted and proc.returncode and proc.returncode < 0:
            raise HelmFailed(f"{_subcommand(cmd)} was stopped: the run was interrupted.")
        if proc.returncode != 0:
            stderr, stdout = err.decode("utf-8", "replace"), out.decode("utf-8", "replace")
            said = bounded(stderr or stdout) or "(nothing)"
            raise HelmFailed(f"{_subcommand(cmd)} failed with exit code {proc.returncode}.", command_lines(cmd),
                             said, stdout=stdout[:1_000_000])
        try:
            return out.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise HelmFailed(f"{_subcommand(cmd)} printed output that is not UTF-8 (byte {exc.start}). Check "
                             "the chart's templates and files for binary content.", command_lines(cmd)) from None

    @property
    def version(self) -> str:
        """helm's semantic version, e.g. ``v4.1.4`` (asked once per binary and process)."""
        return _version(self)

    @property
    def identity(self) -> str:
        """Which helm this is, for cache keys: its version and the sha256 of the program file (a
        wrapper that reports a real helm's version is still another program). Content, not
        place: a render cache restored on another machine, or read from another checkout,
        answers for the same helm wherever it is installed."""
        try:
            return f"{self.version} sha256:{program_digest(self.binary)}"
        except OSError:
            return f"{self.version} {self.binary}"

    @property
    def major(self) -> int:
        return int(self.version.lstrip("v").split(".")[0])

    def check_version(self) -> str:
        """helm must be v3.8 or newer (OCI and ``--kube-version`` behaviour the suite relies on)."""
        version = self.version
        match = re.match(r"v?(\d+)\.(\d+)", version)
        if match is None:
            return version or "unknown"  # a wrapper that prints no version: judged by what it renders
        if (int(match.group(1)), int(match.group(2))) < MIN_VERSION:
            raise HelmNotFound(f"{self.binary} reports version {version!r}; the suite needs helm "
                               f"v{MIN_VERSION[0]}.{MIN_VERSION[1]} or newer. {INSTALL_HINT}")
        return version


_VERSION_CACHE: dict[Path, str] = {}  # binary -> its version; one entry per helm binary used
_DIGESTS: dict[tuple[str, int, int, int, int], str] = {}  # file (path, device, inode, size, mtime) -> sha256
_DIGESTS_LOCK = threading.Lock()


def program_digest(binary: Path) -> str:
    """sha256 of the program file ``binary`` runs (symlinks followed), hashed once per process
    and file version: a changed file (size, modification time or inode) is hashed again."""
    real = Path(binary).resolve()
    st = real.stat()
    stamp = (str(real), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
    with _DIGESTS_LOCK:
        found = _DIGESTS.get(stamp)
    if found is None:
        h = hashlib.sha256()
        with real.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
        found = h.hexdigest()
        with _DIGESTS_LOCK:
            _DIGESTS[stamp] = found
    return found
_VERSIONS_LOCK = threading.Lock()


def _version(helm: Helm) -> str:
    with _VERSIONS_LOCK:
        if helm.binary not in _VERSION_CACHE:
            out = Helm(helm.binary, timeout=min(helm.timeout, 30.0), env=helm.env).run(
                ["version", "--template", "{{ .Version }}"]).strip()
            match = re.search(r"v\d+\.\d+\.\d+\S*", out)
            _VERSION_CACHE[helm.binary] = match.group(0) if match else out
        return _VERSION_CACHE[helm.binary]


def seed_version(binary: Path, version: str) -> None:
    """Record ``binary``'s version as known (remembered from an earlier run of the same program)."""
    with _VERSIONS_LOCK:
        _VERSION_CACHE.setdefault(binary, version)


def known_version(binary: Path) -> str | None:
    """The version if it was already asked for; never calls helm (for terminal summaries)."""
    return _VERSION_CACHE.get(binary)
