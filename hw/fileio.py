"""Atomic writes: a reader sees a file's old content or its new content, never half of it.

Every file the project writes for a user goes through `atomic_path`: directly, for writers that
want a path (`torch.save`, `savefig`), or through `atomic_write_text`, `atomic_write_bytes` and
`atomic_write_npz`. An interrupted or failed write leaves nothing behind but the old file.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextmanager
def atomic_path(path) -> Iterator[Path]:
    """A temporary path beside `path` to write to; on a normal exit it replaces `path`.

    The folder is created if needed. The temporary name ends with the file's own name, so
    writers that choose a format from the suffix still see it. On an exception the temporary
    file is removed and `path` is left as it was.
    """
    path = Path(path)
    folder = Path(os.path.abspath(path)).parent  # a symlink is replaced, not its target
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=path.name)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes it 0600; a plain file honours umask
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_bytes(path, data: bytes) -> None:
    """Write `data` to `path` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(path, text: str) -> None:
    """Write `text` (UTF-8) to `path` atomically."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_npz(path, *, compressed: bool = False, **arrays) -> None:
    """numpy.savez (or savez_compressed) of `arrays` to `path` atomically."""
    save = np.savez_compressed if compressed else np.savez
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        save(fh, **arrays)


def atomic_save_png(fig, path, dpi: int = 90) -> None:
    """A matplotlib figure to `path` as PNG, atomically (the caller closes the figure)."""
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi)


def writable_folder(path, what: str = "output folder") -> Path:
    """Create `path` (and its parents) if needed and check, before any work starts, that files
    can be written in it: a read-only file system or a missing permission is one UserError
    naming the folder, not a traceback after an hour of training. Returns the path."""
    from .errors import UserError  # standard library only, as every stage may call this

    path = Path(path)
    if path.exists() and not path.is_dir():
        raise UserError(f"{what} {path} exists and is not a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=path, prefix=".write-check-")
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise UserError(f"cannot write to {what} {path}: {e.strerror or e}") from None
    return path
