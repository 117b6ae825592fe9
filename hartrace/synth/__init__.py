"""The embedded synthetic action datasets: drawn people doing the 15 Kaggle HAR actions (images)
and 12 movements (videos).

Every image, and every video frame, comes with a ground-truth evidence mask
(the props and limbs that make the action), so explanations can be scored
against what really shows the action; every image also with a concept map (which
of :data:`CONCEPTS` each pixel shows), so units can be scored against concepts.
"""

from __future__ import annotations

from hartrace.synth.actions import ACTIONS
from hartrace.synth.concept_sets import ConceptSetsReport, generate_concept_sets
from hartrace.synth.counterfactual import Counterfactuals, PartRemoval, SyntheticSource
from hartrace.synth.parts import CONCEPTS
from hartrace.synth.scene import render_scene
from hartrace.synth.video import VIDEO_ACTIONS, VideoSynthReport, generate_video_set, render_video
from hartrace.synth.writer import SynthReport, generate

__all__ = [
    "ACTIONS",
    "CONCEPTS",
    "ConceptSetsReport",
    "Counterfactuals",
    "PartRemoval",
    "VIDEO_ACTIONS",
    "SynthReport",
    "SyntheticSource",
    "VideoSynthReport",
    "generate",
    "generate_concept_sets",
    "generate_video_set",
    "render_scene",
    "render_video",
]
