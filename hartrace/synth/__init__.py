"""The embedded synthetic action dataset: drawn people doing the 15 Kaggle HAR actions.

Every image comes with a ground-truth evidence mask (the props and limbs that make
the action), so explanations can be scored against what really shows the action.
"""

from __future__ import annotations

from hartrace.synth.actions import ACTIONS
from hartrace.synth.scene import render_scene
from hartrace.synth.writer import SynthReport, generate

__all__ = ["ACTIONS", "SynthReport", "generate", "render_scene"]
