"""Forward kinematics of a parsed BVH (or converted ASF/AMC): world positions of every joint and End Site.

Each joint's rotation is the product of its rotation channels in the order the file lists them
(any order, per joint), and position channels replace the joint's offset; both are what
`crossdiff.motion.bvh.bvh_positions` does, so this module reuses it. End Sites become joints
without channels named `<joint>_End`: the tip of a head, a toe or a hand is a position the joint
matching can use (a rig without toe joints still has its foot's End Site).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from crossdiff.motion.bvh import Bvh, bvh_positions


def with_end_sites(bvh: Bvh) -> Bvh:
    """A copy of `bvh` whose End Sites are extra joints (no channels) after the file's joints."""
    names, parents = list(bvh.names), list(bvh.parents)
    offsets, channels = [bvh.offsets], list(bvh.channels)
    for joint, offset in sorted(bvh.end_sites.items()):
        name = f"{bvh.names[joint]}_End"
        while name in names:
            name += "_"
        names.append(name)
        parents.append(joint)
        offsets.append(np.asarray(offset, np.float64)[None])
        channels.append(())
    return dataclasses.replace(bvh, names=names, parents=parents, offsets=np.concatenate(offsets),
                               channels=channels, end_sites={})


def world_positions(bvh: Bvh) -> np.ndarray:
    """[T, J + E, 3] positions in the file's units and axes: joints in file order, then the End Sites
    (`with_end_sites(bvh)` lists them; it is a no-op on its own result)."""
    return bvh_positions(with_end_sites(bvh), units="m")   # "m": keep the file's numbers unscaled


def depth(parents: list[int], joint: int) -> int:
    steps = 0
    while parents[joint] >= 0:
        joint, steps = parents[joint], steps + 1
    return steps


def ancestors(parents: list[int], joint: int) -> list[int]:
    """The joint's ancestors, nearest first."""
    chain = []
    while parents[joint] >= 0:
        joint = parents[joint]
        chain.append(joint)
    return chain


def is_ancestor(parents: list[int], ancestor: int, joint: int) -> bool:
    return ancestor in ancestors(parents, joint)


def lowest_common_ancestor(parents: list[int], a: int, b: int) -> int:
    above_a = [a] + ancestors(parents, a)
    return next(j for j in [b] + ancestors(parents, b) if j in above_a)
