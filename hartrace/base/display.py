"""How results made below the renderers show themselves in a notebook.

``Capture`` (probe) and ``Explanation`` (attribution) may not import :mod:`hartrace.render`:
imports only go down, and the renderers already use attribution. Yet in Jupyter a result
should draw itself. Their ``_repr_html_`` calls :func:`result_html`, which imports the cards'
module by name when a notebook asks for a card: the one place where a lower layer reaches a
higher one, at display time only, so importing hartrace stays as cheap and as free of side
effects as before, and import-linter still holds every import written as one.
"""

from __future__ import annotations

import importlib
from typing import Any

#: The module whose functions draw the cards (``capture_html``, ``explanation_html``).
CARDS = "hartrace.render.notebook"


def result_html(card: str, result: Any) -> str:
    """``hartrace.render.notebook.<card>(result)``: the result as a block of HTML, its pictures embedded."""
    return str(getattr(importlib.import_module(CARDS), card)(result))
