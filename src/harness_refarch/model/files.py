"""Files the suite writes (golden files, waivers baselines): atomically and one writer at a time."""

from __future__ import annotations

import hashlib
import os
import stat
import tempfile
from pathlib import Path

import filelock

from harness_refarch.model.errors import RefarchError

LOCK_TIMEOUT_S = 60.0


def write_atomic(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` all at once: readers see the old file or the new, never a torn one.

    The text goes to a temporary file in the same directory (same filesystem, so ``os.replace``
    is atomic), is fsynced, then renamed over the target, under a lock file in the user's cache
    (:func:`lock_for`) so that two concurrent writers (xdist workers, parallel CI jobs) do not
    interleave, and nothing but the target is left in its directory.
    Missing parent directories are created, as for any output option.
    """
    path = Path(path)
    directory = path.parent
    _refuse_special(path, "Cannot write")
    lock_path = lock_for(path)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with filelock.FileLock(str(lock_path), timeout=LOCK_TIMEOUT_S):
            _replace(path, directory, text)
    except filelock.Timeout as exc:
        raise RefarchError(f"Cannot write {path}: another process has held {lock_path} for more than "
                           f"{LOCK_TIMEOUT_S:.0f}s. Wait for it to finish, or delete the lock file if no other "
                           "run is active.") from exc
    except OSError as exc:
        raise RefarchError(f"Cannot write {path}: {exc.strerror or exc}. The previous file, if any, is unchanged; "
                           "check that the directory is writable.") from exc


def lock_for(path: Path) -> Path:
    """The lock file that serialises writers of ``path``: in the user's cache (``locks/``, named by
    the target's path), so that no ``.<name>.lock`` is left in the chart repository beside a
    golden file, a waivers baseline or a report; beside the target only when that cache cannot
    be made."""
    name = f"{hashlib.sha256(str(Path(path).resolve()).encode()).hexdigest()[:32]}-{Path(path).name[:40]}.lock"
    locks = cache_dir() / "locks"
    try:
        locks.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError:
        return Path(path).with_name(f".{Path(path).name}.lock")
    return locks / name


def check_writable(path: Path, option: str) -> None:
    """Fail before any render, in one paragraph, when ``path`` could not be written at the end.

    The test is real (a temporary file is created and removed in the directory that would hold
    the target, or in its nearest existing ancestor), so read-only mounts, ``/proc`` and places
    owned by someone else are caught as well as a target that is a directory or lies under a file.
    """
    path = Path(path)
    how = f"Pass {option} a file path in a directory you can write."
    if path.is_dir():
        raise RefarchError(f"{option} {path} is a directory, not a file. {how}")
    _refuse_special(path, option, how)
    ancestor = path.parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise RefarchError(f"{option} {path} cannot be written: {ancestor} is a file, not a directory. {how}")
    try:
        fd, probe = tempfile.mkstemp(dir=ancestor, prefix=".refarch-write-check.", suffix=".tmp")
    except OSError as exc:
        raise RefarchError(f"{option} {path} cannot be written: {ancestor} does not accept new files "
                           f"({exc.strerror or exc}). {how}") from None
    os.close(fd)
    Path(probe).unlink(missing_ok=True)


def _refuse_special(path: Path, what: str, how: str = "Pass a file path in a directory you can write.") -> None:
    """A device, pipe or socket is never replaced by a regular file: a run as root told to write
    its report to /dev/null would otherwise replace the machine's /dev/null."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return  # missing (or unreadable: the write says why)
    if not stat.S_ISREG(mode) and not stat.S_ISDIR(mode):
        kind = ("a character device" if stat.S_ISCHR(mode) else "a block device" if stat.S_ISBLK(mode)
                else "a named pipe" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode) else "not a file")
        raise RefarchError(f"{what} {path}: it is {kind}, not a regular file, and writing would replace it. {how}")


def _replace(path: Path, directory: Path, text: str) -> None:
    fd, tmp_name = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.", suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            mode = path.stat().st_mode & 0o7777
        except FileNotFoundError:
            mode = 0o644  # mkstemp creates 0600; a waivers file is meant to be shared and reviewed
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def cache_dir() -> Path:
    """The user's cache of the suite (installed helm binaries, renders, output locks):
    ``$HARNESS_REFARCH_CACHE``, else ``$XDG_CACHE_HOME/harness-refarch`` or ``~/.cache/harness-refarch``."""
    explicit = os.environ.get("HARNESS_REFARCH_CACHE")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "harness-refarch"
