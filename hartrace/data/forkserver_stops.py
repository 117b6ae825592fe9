"""Preloaded by the DataLoader forkserver, and only there: block Ctrl-C and SIGTERM in the server.

Every video DataLoader worker is forked from that server and inherits its signal mask. torch's
worker loop installs a SIGTERM handler that exits before the worker's init function can ignore
the signal, so a SIGTERM to the process group (what a job scheduler sends) in that moment killed
a starting worker, and the trainer with it. Blocked, the signal waits; the init function then
ignores it and unblocks, and the pending one is dropped (as for workers forked from the trainer:
``hartrace.workflows.train.loop.StopSafeLoader``). The mask of a process started with exec is
not inherited, which is why this runs inside the server rather than around its start.
"""

from __future__ import annotations

import signal

signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
