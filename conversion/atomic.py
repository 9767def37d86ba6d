"""Atomic outputs: build in a temporary sibling, then rename into place; nothing is left behind on failure."""

import contextlib
import os
import pathlib
import shutil
import tempfile


@contextlib.contextmanager
def atomic_directory(target):
    """Yields a temporary directory that becomes ``target`` if the block succeeds (``target`` must not exist)."""
    target = pathlib.Path(target)
    if target.exists() and any(target.iterdir()):
        raise FileExistsError(f"output directory is not empty: {target}")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = pathlib.Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        yield staging
        if target.exists():
            target.rmdir()
        os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


@contextlib.contextmanager
def atomic_files(targets):
    """Yields temporary paths (same folders) that replace ``targets`` together if the block succeeds."""
    targets = [pathlib.Path(t) for t in targets]
    staged = []
    for target in targets:
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, name = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
        os.close(handle)
        staged.append(pathlib.Path(name))
    try:
        yield staged
        for source, target in zip(staged, targets):
            os.replace(source, target)
    except BaseException:
        for source in staged:
            source.unlink(missing_ok=True)
        raise
