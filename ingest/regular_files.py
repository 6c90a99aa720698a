"""Reading only regular files: never a FIFO, device or socket, never a symlink unless a person named it.

An inbox is written by sync clients and people; a FIFO would block a read
forever and a symlink could reach outside the study. Every raw file irisin
reads on disk is opened here, and the open descriptor is checked, so a file
swapped for something else after it was listed is refused too.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import IO


def open_regular(path: Path, *, follow_symlinks: bool = False) -> IO[bytes]:
    """Open ``path`` for reading only if it is a regular file (reached without a symlink in its last component).

    ``O_NOFOLLOW`` refuses a symlink (unless ``follow_symlinks``: a path a
    person named on the command line) and ``O_NONBLOCK`` keeps a FIFO from
    blocking the open; the descriptor is then checked to be a regular file,
    so a file swapped for a FIFO or device after listing is refused too.
    Raises ``SpecialFileError`` (an ``OSError``) for anything else.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    if not follow_symlinks:
        flags |= getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags)
    except OSError as e:
        if e.errno in (errno.ELOOP, errno.EMLINK):
            raise SpecialFileError(
                f"{path}: symlink{' loop' if follow_symlinks else ''}: refused"
            ) from None
        raise
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise SpecialFileError(f"{path}: {special_kind(mode)}: refused")
    os.set_blocking(fd, True)
    return os.fdopen(fd, "rb")


class SpecialFileError(OSError):
    """A path that is not a regular file (symlink, FIFO, device, socket, folder where a file was expected)."""


def special_kind(mode: int) -> str:
    """What a non-regular file is, in words."""
    if stat.S_ISLNK(mode):
        return "symlink"
    if stat.S_ISFIFO(mode):
        return "FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "device file"
    if stat.S_ISDIR(mode):
        return "folder"
    return "special file"


def read_regular(path: Path, *, follow_symlinks: bool = False) -> bytes:
    """The bytes of a regular file; ``SpecialFileError`` for a symlink, FIFO, device or socket."""
    with open_regular(path, follow_symlinks=follow_symlinks) as f:
        return f.read()
