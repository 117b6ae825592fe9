"""The dataset layouts hartrace reads, by name: cheap to import, so the command line can list them."""

#: Layouts whose samples are videos (the rest are images).
VIDEO_FORMATS = ("ucf101", "hmdb51", "videofolder")
#: Layouts that come with official train/test splits ("folds" 1..3).
FOLD_FORMATS = ("ucf101", "hmdb51")
FORMATS = ("kaggle", "stanford40", "imagefolder", *VIDEO_FORMATS)
