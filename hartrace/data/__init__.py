"""Datasets: the image and video layouts HAR practitioners have, robust decoding, saved splits, transforms.

Names are imported on first use (PEP 562), so the command line starts without torch.
"""

from __future__ import annotations

from hartrace.base.lazy import lazy_getattr

_EXPORTS = {
    "FORMATS": "hartrace.data.formats",
    "detect_format": "hartrace.data.readers",
    "DatasetIndex": "hartrace.data.samples",
    "Sample": "hartrace.data.samples",
    "SkippedFile": "hartrace.data.samples",
    "ImageDecodeError": "hartrace.data.decode",
    "load_rgb": "hartrace.data.decode",
    "probe": "hartrace.data.decode",
    "load_dataset": "hartrace.data.index",
    "VIDEO_FORMATS": "hartrace.data.formats",
    "VIDEO_EXTENSIONS": "hartrace.data.video",
    "VideoDecodeError": "hartrace.data.video",
    "VideoInfo": "hartrace.data.video",
    "probe_video": "hartrace.data.video",
    "read_video": "hartrace.data.video",
    "is_video_file": "hartrace.data.video",
    "clip_indices": "hartrace.data.video",
    "load_video_mask": "hartrace.data.video",
    "VideoDataset": "hartrace.data.clips",
    "video_eval_transform": "hartrace.data.clips",
    "video_train_transform": "hartrace.data.clips",
}

__all__ = sorted(_EXPORTS)

__getattr__ = lazy_getattr(__name__, _EXPORTS)
