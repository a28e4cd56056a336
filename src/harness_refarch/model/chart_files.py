"""The files of a chart directory as helm loads them: symlinked files and folders followed.

helm follows symbolic links when it loads a chart directory, so an edit behind a symlinked
``templates/`` or subchart changes what it renders. The render cache's fingerprint and the
values reader both walk the tree here, so neither misses such a file. Folders are judged by
their path *inside* the chart (a checkout under ``/home/me/.git-work/`` is not skipped), a link
loop is walked once, and only the chart's own version-control folder ``.git`` is left out.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

SKIPPED = frozenset({".git"})  # relative to the chart root, never a component of the root's own path


def walk(root: Path) -> Iterator[tuple[PurePosixPath, Path]]:
    """``(path inside the chart, file)`` for every regular file, sorted, following symlinks."""
    root = Path(root)
    seen: set[tuple[int, int]] = set()
    found: list[tuple[PurePosixPath, Path]] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        here = Path(dirpath)
        try:
            st = here.stat()
        except OSError:
            dirnames[:] = []
            continue
        if (st.st_dev, st.st_ino) in seen:  # a symlink loop, or the same folder linked twice
            dirnames[:] = []
            continue
        seen.add((st.st_dev, st.st_ino))
        rel_dir = PurePosixPath(here.relative_to(root).as_posix())
        dirnames[:] = sorted(d for d in dirnames if d not in SKIPPED)
        for name in filenames:
            path = here / name
            if path.is_file():  # follows a symlinked file; a dangling link is not a file
                found.append((rel_dir / name if rel_dir.parts else PurePosixPath(name), path))
    return iter(sorted(found))
