"""Every layout's reader by name, and telling a folder's layout from its marker files."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from hartrace.base.errors import DataError
from hartrace.data.formats import VIDEO_FORMATS
from hartrace.data.layouts import (
    ClassList,
    Listing,
    class_dirs,
    files_in,
    find_file,
    read_imagefolder,
    read_kaggle,
    read_stanford40,
)


def _video_reader(layout: str) -> Callable[..., Listing]:
    """The reader of a video layout, imported on first use (it decodes with OpenCV)."""

    def read(root: Path, classes: ClassList | None = None, fold: int = 1) -> Listing:
        from hartrace.data.video_layouts import VIDEO_READERS

        return VIDEO_READERS[layout](root, classes, fold)

    read.__name__ = read.__qualname__ = f"read_{layout}"
    return read


#: Every reader takes ``(root, classes)``, ``classes`` a :class:`ClassList` that replaces the layout's own;
#: the video readers also take ``fold`` (UCF101/HMDB51 split 1..3).
READERS: dict[str, Callable[..., Listing]] = {
    "kaggle": read_kaggle,
    "stanford40": read_stanford40,
    "imagefolder": read_imagefolder,
    **{layout: _video_reader(layout) for layout in VIDEO_FORMATS},
}


def detect_format(root: Path) -> str:
    """The layout of ``root``, judged by its marker files (split files before class folders)."""
    from hartrace.data import video_layouts

    if find_file(root, "Training_set.csv") is not None:
        return "kaggle"
    if (root / "ImageSplits" / "actions.txt").is_file():
        return "stanford40"
    marked = video_layouts.detect_split_layout(root)
    if marked is not None:
        return marked
    if any(files_in(d) for d in class_dirs(root)):
        return "imagefolder"
    if video_layouts.has_video_folders(root):
        return "videofolder"
    raise DataError(
        f"cannot tell the layout of {root}: expected Training_set.csv (Kaggle HAR), "
        "ImageSplits/actions.txt (Stanford 40), ucfTrainTestlist/classInd.txt (UCF101), "
        "testTrainMulti_7030_splits/<class>_test_split1.txt (HMDB51), or class sub-folders of images "
        "(ImageFolder) or of videos (videofolder); see --format"
    )
