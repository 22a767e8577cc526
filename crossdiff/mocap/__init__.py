"""Motion-capture import (preparation only): BVH and ASF/AMC files -> T2M joints [T, 22, 3] at 20 fps.

Modules: `bvh_reader` (line-aware BVH parser), `asf_amc` (CMU's ASF/AMC), `kinematics` (forward
kinematics with per-joint rotation orders, End Sites as joints), `rigs` (joint-name matching to the
22 T2M joints: rig presets, hierarchy rules, mapping files, inferred joints), `units` (unit and
up-axis detection), `resample` (any frame rate -> 20 fps without drift), `convert` (one file ->
joints), `captions` (caption files and tokens), `clip_stats` (height, walking speed, foot contacts),
`folder` (input files, clip ids, hash splits, report.json).
`prepare/bvh.py` drives them; training, evaluation and inference never import this package.
"""
