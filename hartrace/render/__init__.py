"""Pure functions from arrays and results to pictures; they never run a model.

The matplotlib charts load eagerly; the rest (OpenCV overlays, plotly) on first use,
so importing ``hartrace.render`` stays cheap.
"""

from hartrace.base.lazy import lazy_getattr
from hartrace.render.charts import confusion_matrix_figure as confusion_matrix_figure
from hartrace.render.charts import probability_bars_figure as probability_bars_figure
from hartrace.render.charts import training_curves_figure as training_curves_figure
from hartrace.render.gallery import image_gallery_figure as image_gallery_figure

_LAZY = {
    "activation_grid_figure": "hartrace.render.activations",
    "histogram_figure": "hartrace.render.activations",
    "top_channels": "hartrace.render.activations",
    "kernel_grid_figure": "hartrace.render.kernels",
    "cam_figure": "hartrace.render.overlay",
    "cam_overlay": "hartrace.render.overlay",
    "overlay_grid_figure": "hartrace.render.overlay",
    "capture_strip_figure": "hartrace.render.flow",
    "layer_flow_figure": "hartrace.render.flow",
    "overlaid_curves_figure": "hartrace.render.compare",
    "pivot_heatmap_figure": "hartrace.render.compare",
    "figure_png_bytes": "hartrace.render.report",
    "html_report": "hartrace.render.report",
    "activation_grid_plotly": "hartrace.render.interactive",
    "cam_colorscale": "hartrace.render.interactive",
    "cam_colour_bar": "hartrace.render.interactive",
    "cam_overlay_plotly": "hartrace.render.interactive",
    "image_plotly": "hartrace.render.interactive",
    "png_data_uri": "hartrace.render.interactive",
    "confusion_matrix_plotly": "hartrace.render.interactive",
    "histogram_plotly": "hartrace.render.interactive",
    "kernel_grid_plotly": "hartrace.render.interactive",
    "probability_bars_plotly": "hartrace.render.interactive",
    "training_curves_plotly": "hartrace.render.interactive",
    "activation_time_grid_figure": "hartrace.render.video",
    "frame_strip_figure": "hartrace.render.video",
    "overlay_frames": "hartrace.render.video",
    "read_gif": "hartrace.render.video",
    "temporal_importance_figure": "hartrace.render.video",
    "write_gif": "hartrace.render.video",
    "write_mp4": "hartrace.render.video",
}
__getattr__ = lazy_getattr(__name__, _LAZY)

__all__ = sorted(
    [
        "confusion_matrix_figure",
        "image_gallery_figure",
        "probability_bars_figure",
        "training_curves_figure",
        *_LAZY,
    ]
)
