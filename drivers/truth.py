"""Names of label classes and keypoints shared by ground truth, label files and models."""

#: Class ids are indices into this list (docs/formats/labels.md).
DEFAULT_CLASSES = ("background", "left_calf", "right_calf")

#: Keypoint order of /truth/<stream>/keypoints and of keypoint models. Left and right
#: are the subject's own sides.
DEFAULT_KEYPOINTS = (
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
    "left_heel",
    "right_heel",
)

#: Label value for "not labeled / unknown" in masks (docs/formats/labels.md).
UNKNOWN_LABEL = 255
