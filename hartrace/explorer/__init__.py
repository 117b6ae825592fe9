"""The explorer's server side (the Dash app in ``app/`` is a thin shell over it)."""

from hartrace.explorer.cache import LRUCache
from hartrace.explorer.service import FAST_METHODS, SLOW_METHODS, Analysis, ExplorerService

__all__ = ["FAST_METHODS", "SLOW_METHODS", "Analysis", "ExplorerService", "LRUCache"]
