"""In-the-wild 2D keypoints: detector file formats, main-person tracking, gap filling, resampling,
smoothing and the mapping to 134-d features (`prepare/ucf101.py`), plus UCF101's class captions and a
simulated detector for tests and experiments.

Training, evaluation and inference read only the folder `prepare/ucf101.py` writes, through
`crossdiff.data.inthewild`.
"""
