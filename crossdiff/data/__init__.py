"""Dataset readers (HumanML3D/KIT folders, in-the-wild 2D folders, their mixture), words and collate functions.

The folders they read are written by `prepare/`; the synthetic generator lives in `crossdiff.synthetic`
and the keypoint preparation in `crossdiff.keypoints`.
"""
