"""The explorer's server side (the Dash app in ``app/`` is a thin shell over it, typed by :class:`ExplorerAPI`)."""

from hartrace.explorer.api import ExplorerAPI
from hartrace.explorer.cache import LRUCache
from hartrace.explorer.service import FAST_METHODS, SLOW_METHODS, Analysis, ExplorerService
from hartrace.explorer.store import RunStore

__all__ = ["FAST_METHODS", "SLOW_METHODS", "Analysis", "ExplorerAPI", "ExplorerService", "LRUCache", "RunStore"]
