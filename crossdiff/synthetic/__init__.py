"""The procedural synthetic dataset: text-annotated motion families on the T2M skeleton.

Only `prepare/synthetic.py` (which writes the HumanML3D-format folder), the simulated keypoint
detector and tests import this package; training, evaluation and inference read the folder it
writes through `crossdiff.data`.
"""
