"""Atomic outputs: build in a temporary sibling, then rename into place; nothing is left behind on failure."""

import contextlib
import os
import pathlib
import shutil
import tempfile


def _staging_folder(beside: pathlib.Path) -> pathlib.Path:
    beside.parent.mkdir(parents=True, exist_ok=True)
    return pathlib.Path(tempfile.mkdtemp(prefix=f".{beside.name}.", dir=beside.parent))


@contextlib.contextmanager
def atomic_directory(target):
    """Yields a temporary folder that becomes ``target`` if the block succeeds (``target`` must not exist or be
    empty)."""
    target = pathlib.Path(target)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise FileExistsError(f"output exists and is not an empty folder: {target}")
    staging = _staging_folder(target)
    try:
        yield staging
        if target.exists():
            target.rmdir()
        os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


@contextlib.contextmanager
def atomic_files(folder, names):
    """Yields a temporary folder inside ``folder``; the files ``names`` written there are moved into ``folder`` if
    the block succeeds. The temporary folder is removed in every case."""
    folder = pathlib.Path(folder)
    staging = _staging_folder(folder / names[0])
    try:
        yield staging
        for name in names:
            os.replace(staging / name, folder / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
