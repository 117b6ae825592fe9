"""Whether hartrace may use the network: published weights download on first use unless told not to.

``HARTRACE_OFFLINE=1`` (or the command line's ``--offline``) keeps every download off,
for air-gapped machines and for runs that must not change what is on disk.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["OFFLINE_VARIABLE", "downloads_allowed", "offline"]

OFFLINE_VARIABLE = "HARTRACE_OFFLINE"
_TRUE = ("1", "true", "yes", "on")


def downloads_allowed() -> bool:
    """False when ``HARTRACE_OFFLINE`` is set to 1/true/yes/on: then nothing is fetched."""
    return os.environ.get(OFFLINE_VARIABLE, "").strip().lower() not in _TRUE


@contextmanager
def offline(enabled: bool = True) -> Iterator[None]:
    """Within the block, downloads are off (``enabled``); the variable is restored afterwards.

    It is an environment variable, not a module flag, so DataLoader workers and other
    child processes see it too.
    """
    if not enabled:
        yield
        return
    before = os.environ.get(OFFLINE_VARIABLE)
    os.environ[OFFLINE_VARIABLE] = "1"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(OFFLINE_VARIABLE, None)
        else:
            os.environ[OFFLINE_VARIABLE] = before
