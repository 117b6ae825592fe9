"""Datasets: the layouts HAR practitioners have, robust decoding, saved splits, transforms."""

from hartrace.data.decode import ImageDecodeError, load_rgb, probe
from hartrace.data.index import load_dataset
from hartrace.data.layouts import FORMATS, detect_format
from hartrace.data.samples import DatasetIndex, Sample, SkippedFile

__all__ = [
    "FORMATS",
    "DatasetIndex",
    "ImageDecodeError",
    "Sample",
    "SkippedFile",
    "detect_format",
    "load_dataset",
    "load_rgb",
    "probe",
]
