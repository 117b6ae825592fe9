"""Pure functions from arrays and results to pictures; they never run a model."""

from hartrace.render.charts import confusion_matrix_figure, probability_bars_figure, training_curves_figure
from hartrace.render.gallery import image_gallery_figure

__all__ = [
    "confusion_matrix_figure",
    "image_gallery_figure",
    "probability_bars_figure",
    "training_curves_figure",
]
