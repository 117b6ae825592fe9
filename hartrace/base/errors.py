"""Errors a user can act on.

Anything raised as a :class:`HartraceError` reaches the command line as one
line and a non-zero exit code; everything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import errno


class HartraceError(Exception):
    """A problem with the user's input or environment, explained in one line."""

    exit_code = 1


class UsageError(HartraceError):
    """Bad arguments or bad input data: exit code 2, like argparse."""

    exit_code = 2


class DataError(UsageError):
    """A dataset that cannot be read as asked (missing files, unknown labels...)."""


class WeightsNotFoundError(HartraceError):
    """Pretrained weights that are not on this machine, with where to put them."""

    exit_code = 2


_FILE_SYSTEM_ADVICE = {
    errno.EACCES: "permission denied: choose a folder you can write to (--out, --runs-dir) or fix its permissions",
    errno.EPERM: "operation not permitted: choose a folder you can write to (--out, --runs-dir)",
    errno.EROFS: "read-only file system: choose a folder you can write to (--out, --runs-dir)",
    errno.ENOSPC: "no space left on the device: free some space, or write elsewhere (--out, --runs-dir)",
    errno.EDQUOT: "disk quota exceeded: free some space, or write elsewhere (--out, --runs-dir)",
    errno.ENOTDIR: "part of this path is a file, not a folder: choose another path",
    errno.EEXIST: "already exists: choose another path",
    errno.EISDIR: "is a folder, not a file",
    errno.ENOENT: "no such file or folder",
    errno.EMFILE: "too many open files: lower --workers or raise `ulimit -n`",
}


def describe_os_error(exc: OSError) -> str:
    """One line for a file-system failure: the path it hit and what to do about it.

    The operating system's own text (``[Errno 28] No space left on device``) says what
    happened but not where or what next; this is the one place that adds both.
    """
    advice = _FILE_SYSTEM_ADVICE.get(exc.errno or -1) or (exc.strerror or str(exc) or type(exc).__name__)
    paths = [str(p) for p in (exc.filename, exc.filename2) if p is not None]
    return f"{' -> '.join(paths)}: {advice}" if paths else advice
