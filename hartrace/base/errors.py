"""Errors a user can act on.

Anything raised as a :class:`HartraceError` reaches the command line as one
line and a non-zero exit code; everything else is a bug and keeps its traceback.
"""

from __future__ import annotations


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
