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
URL_SHARED = "url-shared"  # the state last written into the URL's #fragment (in the browser, by assets/url-state.js)
EVALUATED = "evaluated"  # the run whose evaluation is ready (None while it runs): pages that need it wait for it
EVALUATION_JOB = "evaluation-job"  # the key of the first evaluation's background job, while it runs
EVALUATION_POLL = "evaluation-poll"
EVALUATION_BOX = "evaluation-box"  # the frame's progress bar for it, with a Cancel button
EVALUATION_TEXT = "evaluation-text"
EVALUATION_CANCEL = "evaluation-cancel"
SESSION_ID = "session-id"  # a random id per browser tab: who owns (and may cancel) a background job

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
UPLOAD_LIMIT = "upload-limit"  # what the drop zone takes: types and the size limit

# -- Prediction ------------------------------------------------------------------------
PREDICTION_IMAGE = "prediction-image"
PREDICTION_CLASSES = "prediction-classes"  # the class list (top k or all)
PREDICTION_TOPK = "prediction-topk"
PREDICTION_NOTE = "prediction-note"

# -- Explain ---------------------------------------------------------------------------
# Explain's pickers are pattern ids, matched with ALL by the callback that keeps them in step with the
# session's choice: that callback also runs off Explain (to keep the choice) without naming a missing component.
EXPLAIN_METHOD = {"type": "explain-method", "index": "picker"}
EXPLAIN_LAYER = {"type": "explain-layer", "index": "picker"}
EXPLAIN_ALPHA = "explain-alpha"
EXPLAIN_ORIGINAL = "explain-original"
EXPLAIN_OVERLAY = "explain-overlay"
EXPLAIN_LOADING = "explain-loading"
EXPLAIN_CAPTION = "explain-caption"
EXPLAIN_RESET = "explain-reset"  # back to explaining the prediction
EXPLAIN_CLASSES = "explain-classes"  # the class list: every class one click away
EXPLAIN_JOB = "explain-job"  # the key of the background job drawing a slow map, while it runs
EXPLAIN_POLL = "explain-poll"  # dcc.Interval asking how that job is doing
EXPLAIN_PROGRESS = "explain-progress"  # the job's progress bar and line
EXPLAIN_JOB_BOX = "explain-job-box"  # progress and the Cancel button, hidden when no job runs
EXPLAIN_CANCEL = "explain-cancel"
EXPLAIN_READY = "explain-ready"  # bumped when a slow map is done: the overlay is drawn again
CLASS_PICK = "class-pick"  # pattern: {"type": CLASS_PICK, "page": page, "index": class name}

# -- Methods (every method side by side) ------------------------------------------------
METHODS_GRID = "methods-grid"
METHODS_NOTE = "methods-note"

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
INSIDE_ATLAS = "inside-atlas"  # the clicked channel's way into the Atlas page (or why its layer has no atlas)

# -- Atlas (what each channel of a layer responds to, from the run's saved `hartrace atlas`) --
ATLAS_ASKED = "atlas-asked"  # {"layer", "channel"} a link asked for (/atlas?layer=..&channel=..), applied once
ATLAS_LAYER = "atlas-layer"
ATLAS_CHANNEL = "atlas-channel"
ATLAS_NOTICE = "atlas-notice"  # no atlas (and how to make one), or why it cannot be read
ATLAS_START = "atlas-start"  # make the atlas in the background
ATLAS_JOB = "atlas-job"  # the key of that job, while it runs
ATLAS_POLL = "atlas-poll"
ATLAS_PROGRESS = "atlas-progress"
ATLAS_READY = "atlas-ready"  # bumped when the atlas is made: the layers are listed again
ATLAS_BODY = "atlas-body"  # everything below the controls, hidden while there is no atlas
ATLAS_UNITS = "atlas-units"  # the layer's units ranked by IoU: each row a button
ATLAS_UNIT = "atlas-unit"  # pattern: {"type": ATLAS_UNIT, "index": channel}
ATLAS_TITLE = "atlas-title"
ATLAS_SUMMARY = "atlas-summary"  # the channel's best concept, IoU and runners-up
ATLAS_TOP = "atlas-top"  # its top images, the region that fired framed
ATLAS_FEATVIS = "atlas-featvis"  # its feature visualisation
ATLAS_FEATVIS_JOB = "atlas-featvis-job"
ATLAS_FEATVIS_POLL = "atlas-featvis-poll"
ATLAS_FEATVIS_PROGRESS = "atlas-featvis-progress"
ATLAS_FEATVIS_READY = "atlas-featvis-ready"  # bumped when a picture is made: it is shown
ATLAS_URL = "atlas-url"  # the query last written into the URL (in the browser, by assets/url-state.js)

# -- Evaluation ------------------------------------------------------------------------
EVAL_MATRIX = "eval-matrix"
EVAL_CELL = "eval-cell"  # the chosen cell's title
EVAL_GALLERY = "eval-gallery"
EVAL_METRICS = "eval-metrics"  # the per-class precision, recall, F1 and support table
EVAL_CLASS_ROW = "eval-class-row"  # pattern: {"type": EVAL_CLASS_ROW, "index": class name}, a clickable table row
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
AUDIT_RELIANCE_CLASSES = "audit-reliance-classes"  # each method's rank agreement with the reliance, per class
AUDIT_EVIDENCE = "audit-evidence"  # does the model use the evidence? per class, or why the check did not run
AUDIT_RELIANCE = "audit-reliance"  # the per-image card, hidden where the counterfactual check did not run
AUDIT_RELIANCE_IMAGE = "audit-reliance-image"  # which audited image's parts are shown
AUDIT_RELIANCE_PICTURE = "audit-reliance-picture"
AUDIT_RELIANCE_SUMMARY = "audit-reliance-summary"  # the image's prediction and Spearmans in words
AUDIT_RELIANCE_CHART = "audit-reliance-chart"
AUDIT_STRIP = "audit-strip"  # counterfactuals.png, as the audit drew it

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

# -- Embedding (the evaluated split's penultimate features in 2-D, computed by a background job) --
EMBEDDING_COLOUR = "embedding-colour"  # colour the points by their true or their predicted class
EMBEDDING_START = "embedding-start"  # compute again, after a cancel or a failure
EMBEDDING_CANCEL = "embedding-cancel"
EMBEDDING_PROGRESS = "embedding-progress"  # the job's one-line progress, or why there is no plot
EMBEDDING_POLL = "embedding-poll"  # dcc.Interval, enabled only while the job runs
EMBEDDING_JOB = "embedding-job"  # the key of the job this page follows
EMBEDDING_READY = "embedding-ready"  # the run whose embedding is computed: the plot's trigger
EMBEDDING_PLOT = "embedding-plot"
EMBEDDING_TOOLTIP = "embedding-tooltip"  # the hovered point's thumbnail
EMBEDDING_NOTE = "embedding-note"  # what the plot shows: how many items, which layer, which projection

# -- Failures: one banner at the top of every page (assets/request-errors.js spells these ids too) --
ERROR_BANNER = "error-banner"
ERROR_MESSAGE = "error-message"
ERROR_DISMISS = "error-dismiss"


def class_pick(page: str, name: str) -> dict[str, str]:
    """A row of a class list (Explain, Prediction): clicking it explains that class."""
    return {"type": CLASS_PICK, "page": page, "index": name}


def thumb(image_id: str) -> dict[str, str]:
    return {"type": THUMB, "index": image_id}


def gallery_thumb(image_id: str) -> dict[str, str]:
    return {"type": GALLERY_THUMB, "index": image_id}


def eval_class_row(class_name: str) -> dict[str, str]:
    return {"type": EVAL_CLASS_ROW, "index": class_name}


def atlas_unit(channel: object) -> dict[str, object]:
    """A row of the Atlas page's unit list: clicking it opens that channel."""
    return {"type": ATLAS_UNIT, "index": channel}


def nav_link(path: str) -> dict[str, str]:
    return {"type": NAV_LINK, "index": path}
