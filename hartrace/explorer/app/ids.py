"""Every component id of the explorer, in one place.

Callbacks, layouts and tests import these names instead of spelling ids out, so a
renamed id cannot silently disconnect a callback. Pattern-matching ids are built with
the helpers at the bottom (``{"type": THUMB, "index": image_id}``).
"""

from __future__ import annotations

# -- per-session state, kept in the browser (dcc.Store) ----------------------------
RUN_STORE = "run-store"  # the selected run's name
IMAGE_STORE = "image-store"  # the selected image id
TARGET_STORE = "target-store"  # the class to explain, or None for the prediction
METHOD_STORE = "method-store"  # the explanation method
LAYER_STORE = "layer-store"  # the CAM layer (None: the model's default)
PROBE_STORE = "probe-store"  # {"layer", "flow"}: what "Inside the network" shows
IMAGES_STATE = "images-state"  # {"label", "predicted", "misclassified_first", "page"}
COMPARE_STORE = "compare-store"  # the second run of Compare
URL = "url"  # our own dcc.Location, for navigating from callbacks

# -- shell: navigation bar and selection summary ------------------------------------
NAV = "nav"
NAV_LINK = "nav-link"  # pattern: {"type": NAV_LINK, "index": path}
RUN_DROPDOWN = "run-dropdown"
SELECTION = "selection"  # the selected image's thumbnail, name and target

# -- Run -------------------------------------------------------------------------------
RUN_SUMMARY = "run-summary"
RUN_METRICS = "run-metrics"
RUN_CURVES = "run-curves"
RUN_CONFIG = "run-config"
RUN_LIST = "run-list"

# -- Images ----------------------------------------------------------------------------
IMAGES_LABEL = "images-label"
IMAGES_PREDICTED = "images-predicted"
IMAGES_MISCLASSIFIED = "images-misclassified"
IMAGES_PREV = "images-prev"
IMAGES_NEXT = "images-next"
IMAGES_PAGER = "images-pager"
IMAGES_GRID = "images-grid"
IMAGES_SHOWN = "images-shown"  # the page actually shown (the service clamps out-of-range pages)
IMAGES_ERROR = "images-error"
THUMB = "thumb"  # pattern: {"type": THUMB, "index": image_id}
UPLOAD = "upload"
UPLOAD_ERROR = "upload-error"

# -- Prediction ------------------------------------------------------------------------
PREDICTION_IMAGE = "prediction-image"
PREDICTION_BARS = "prediction-bars"
PREDICTION_TOPK = "prediction-topk"
PREDICTION_NOTE = "prediction-note"

# -- Explain ---------------------------------------------------------------------------
EXPLAIN_METHOD = "explain-method"
EXPLAIN_LAYER = "explain-layer"
EXPLAIN_ALPHA = "explain-alpha"
EXPLAIN_ORIGINAL = "explain-original"
EXPLAIN_OVERLAY = "explain-overlay"
EXPLAIN_LOADING = "explain-loading"
EXPLAIN_BARS = "explain-bars"
EXPLAIN_CAPTION = "explain-caption"
EXPLAIN_RESET = "explain-reset"  # back to explaining the prediction

# -- Inside the network ----------------------------------------------------------------
INSIDE_LAYER = "inside-layer"
INSIDE_GRID = "inside-grid"
INSIDE_CHANNEL = "inside-channel"
INSIDE_CHANNEL_HISTOGRAM = "inside-channel-histogram"
INSIDE_HISTOGRAM = "inside-histogram"
INSIDE_KERNELS = "inside-kernels"
INSIDE_FLOW_LAYERS = "inside-flow-layers"
INSIDE_FLOW_BUTTON = "inside-flow-button"
INSIDE_FLOW = "inside-flow"
INSIDE_FLOW_NOTE = "inside-flow-note"
INSIDE_NOTE = "inside-note"

# -- Evaluation ------------------------------------------------------------------------
EVAL_MATRIX = "eval-matrix"
EVAL_CELL = "eval-cell"  # the chosen cell's title
EVAL_GALLERY = "eval-gallery"
GALLERY_THUMB = "gallery-thumb"  # pattern: {"type": GALLERY_THUMB, "index": image_id}

# -- Compare ---------------------------------------------------------------------------
COMPARE_RUN_A = "compare-run-a"
COMPARE_RUN_B = "compare-run-b"
COMPARE_PANEL_A = "compare-panel-a"
COMPARE_PANEL_B = "compare-panel-b"

# -- Audit (a run's saved `hartrace audit` results) ------------------------------------
AUDIT_SPLIT = "audit-split"  # which of the run's audits (one per split)
AUDIT_NOTICE = "audit-notice"  # no audit (and how to make one), or why it cannot be read
AUDIT_BODY = "audit-body"  # everything below the notice, hidden when there is nothing to show
AUDIT_SUMMARY = "audit-summary"
AUDIT_TABLE = "audit-table"  # the method comparison
AUDIT_CURVES = "audit-curves"  # deletion and insertion curves: a plotly graph, or the audit's own picture
AUDIT_CASCADE = "audit-cascade"
AUDIT_WORST = "audit-worst"
AUDIT_METHOD = "audit-method"  # the method whose per-class localisation is drawn
AUDIT_PER_CLASS = "audit-per-class"

# -- Video (video runs: the selected video is IMAGE_STORE, its class TARGET_STORE) -------
VIDEO_NOTICE = "video-notice"  # why there is nothing to show (no run, an image run)
VIDEO_PICKER = "video-picker"
VIDEO_ALPHA = "video-alpha"
VIDEO_RESET = "video-reset"  # back to explaining the prediction
VIDEO_FRAME = "video-frame"  # the frame at the slider and its overlay, side by side
VIDEO_SLIDER = "video-slider"  # the clip's frame shown (0 .. T-1)
VIDEO_PLAY = "video-play"
VIDEO_TIMER = "video-timer"  # dcc.Interval that steps the slider while playing
VIDEO_CAPTION = "video-caption"
VIDEO_BARS = "video-bars"
VIDEO_CURVE = "video-curve"  # temporal importance; a click moves the slider


def thumb(image_id: str) -> dict[str, str]:
    return {"type": THUMB, "index": image_id}


def gallery_thumb(image_id: str) -> dict[str, str]:
    return {"type": GALLERY_THUMB, "index": image_id}


def nav_link(path: str) -> dict[str, str]:
    return {"type": NAV_LINK, "index": path}
