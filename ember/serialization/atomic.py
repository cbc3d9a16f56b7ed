"""Replace a file so that a crash leaves either the old file or the new one, whole.

NOTE [atomic save]: the new content goes to a temporary file in the target's directory
(``os.replace`` is atomic only within one file system), which is flushed and fsynced
before it is renamed over the target, and the directory is fsynced after, so that the
rename itself survives a power cut. A process killed before the rename leaves the old
file untouched (and, at worst, a stray ``.<name>.<random>.tmp`` beside it); an error
raised while writing removes the temporary file.
"""

import contextlib
import os
import secrets
import stat

__all__ = ["atomic_write"]


def atomic_write(path, write, *, _before_replace=None):
    """Create or replace ``path`` with what ``write(stream)`` writes.

    Symbolic links are followed, so the file a link points to is replaced (as writing
    through it would); a new file gets the permissions an ordinary new file gets, and
    a replaced one keeps its own.

    Args:
        path: the file to create or replace.
        write: called with the temporary file, open for binary writing; writes the
            whole content.
        _before_replace: test hook, called with the temporary path once it is written
            and synced, just before the rename (to kill the process at that moment).
    """
    target = os.path.realpath(os.fspath(path))
    directory, name = os.path.split(target)
    temporary, fd = _create_temporary(directory, name)
    try:
        with open(fd, "wb") as stream:
            write(stream)
            stream.flush()
            os.fsync(stream.fileno())
        _keep_mode(target, temporary)
        if _before_replace is not None:
            _before_replace(temporary)
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    if os.name == "posix":  # other systems cannot open a directory to sync it
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _create_temporary(directory, name):
    """A new file beside the target, created exclusively (never an existing one): its path
    and a descriptor open for writing."""
    for _ in range(100):
        temporary = os.path.join(directory, f".{name}.{secrets.token_hex(4)}.tmp")
        try:
            return temporary, os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
    raise FileExistsError(f"save: could not create a temporary file in {directory!r}")


def _keep_mode(target, temporary):
    with contextlib.suppress(FileNotFoundError):
        os.chmod(temporary, stat.S_IMODE(os.stat(target).st_mode))
