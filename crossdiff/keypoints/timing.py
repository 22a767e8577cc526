"""Keypoint sequences along time: the main person, detection gaps, frame-rate change, jitter.

All functions are vectorised over frames (numpy); `observed [T, K]` is True where a keypoint was
detected with enough confidence (or, after `fill_gaps`, interpolated across a short gap).
"""

from __future__ import annotations

import warnings

import numpy as np
import torch

from crossdiff.motion.filters import one_euro_smooth

MIN_POINTS = 3              # a detection with fewer confident keypoints is ignored
TRACK_WINDOW = 1.0          # seconds: the main person's path is a running median over this window
MAX_JUMP = 0.5              # a detection farther than this many body sizes from that path is someone else,
MAX_SIZE_RATIO = 1.4        # and so is one this many times larger or smaller than the path's body size


def _nan_stat(fn, array, **kwargs):
    """np.nanmedian & co. without the 'All-NaN slice' warnings (an all-NaN slice gives NaN, as wanted)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return fn(array, **kwargs)


def _detection_boxes(points: np.ndarray, seen: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centre [..., 2] and size (diagonal of the box around the seen keypoints) [...] of detections."""
    xy = np.where(seen[..., None], points, np.nan)
    centre = _nan_stat(np.nanmean, xy, axis=-2)
    extent = _nan_stat(np.nanmax, xy, axis=-2) - _nan_stat(np.nanmin, xy, axis=-2)
    return centre, np.linalg.norm(extent, axis=-1)


def running_nanmedian(values: np.ndarray, window: int) -> np.ndarray:
    """Centred running median along axis 0 ignoring NaN, [T, ...] -> [T, ...]; `window` is made odd."""
    half = max(int(window), 1) // 2
    padded = np.concatenate([np.full((half,) + values.shape[1:], np.nan), values,
                             np.full((half,) + values.shape[1:], np.nan)])
    windows = np.lib.stride_tricks.sliding_window_view(padded, 2 * half + 1, axis=0)
    return _nan_stat(np.nanmedian, windows, axis=-1)


def select_main_person(keypoints: np.ndarray, min_score: float, fps: float) -> np.ndarray:
    """The main person's keypoints, [T, P, K, 3] -> [T, K, 3] ((NaN, NaN, 0) where they are not seen).

    The main person is the one that is most often the most salient detection (box size times mean
    confidence): running medians of the most salient detection's centre and size over
    `TRACK_WINDOW` give their path and body size, and each frame takes the detection nearest that
    path. A frame whose nearest detection is more than `MAX_JUMP` body sizes away, or differs in
    size by more than `MAX_SIZE_RATIO`, shows someone else only (the main person is missing).
    """
    frames, slots = keypoints.shape[:2]
    if slots == 1 or frames == 0:
        return keypoints[:, 0].copy()
    seen = (keypoints[..., 2] >= min_score) & np.isfinite(keypoints[..., :2]).all(-1)
    valid = seen.sum(-1) >= MIN_POINTS                                            # [T, P]
    centre, size = _detection_boxes(keypoints[..., :2], seen)
    confidence = (keypoints[..., 2] * seen).sum(-1) / np.maximum(seen.sum(-1), 1)
    salience = np.where(valid, size * confidence, -np.inf)
    best = salience.argmax(1)
    rows = np.arange(frames)
    window = int(round(TRACK_WINDOW * fps))
    anchor = np.where(valid.any(1)[:, None], centre[rows, best], np.nan)
    path = running_nanmedian(anchor, window)
    body = running_nanmedian(np.where(valid.any(1), size[rows, best], np.nan), window)
    with np.errstate(divide="ignore", invalid="ignore"):      # NaN / zero sizes simply do not fit
        distance = np.linalg.norm(centre - path[:, None], axis=-1) / body[:, None]
        ratio = np.abs(np.log(size / body[:, None]))
    fits = valid & (distance <= MAX_JUMP) & (ratio <= np.log(MAX_SIZE_RATIO))
    choice = np.where(fits, distance, np.inf).argmin(1)
    person = keypoints[rows, choice].copy()
    person[~fits[rows, choice]] = (np.nan, np.nan, 0.0)
    return person


def _neighbours(observed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For every frame and keypoint, the previous and next observed frame ([T, K]; -1 / T if none)."""
    frames = len(observed)
    index = np.broadcast_to(np.arange(frames)[:, None], observed.shape)
    previous = np.maximum.accumulate(np.where(observed, index, -1), axis=0)
    following = np.minimum.accumulate(np.where(observed, index, frames)[::-1], axis=0)[::-1]
    return previous, following


def fill_gaps(points: np.ndarray, observed: np.ndarray, max_gap: int) -> tuple[np.ndarray, np.ndarray]:
    """Interpolate keypoints across missing frames, [T, K, 2] + [T, K] -> same shapes.

    Gaps of at most `max_gap` frames between two detections are filled linearly and then count as
    observed. Longer gaps are filled linearly too, before the first detection and after the last
    one the nearest detection is held; those frames stay unobserved. A keypoint that is never
    observed stays NaN.
    """
    frames = len(points)
    previous, following = _neighbours(observed)
    before = np.clip(previous, 0, frames - 1)
    after = np.clip(following, 0, frames - 1)
    start = np.where(previous >= 0, before, after)
    stop = np.where(following < frames, after, before)
    t = np.arange(frames)[:, None]
    weight = np.where(stop > start, (t - start) / np.maximum(stop - start, 1), 0.0)[..., None]
    p_start = np.take_along_axis(points, start[..., None], axis=0)
    p_stop = np.take_along_axis(points, stop[..., None], axis=0)
    filled = np.where(observed[..., None], points, p_start + weight * (p_stop - p_start))
    never = ~observed.any(0)
    filled[:, never] = np.nan
    short = (previous >= 0) & (following < frames) & (following - previous - 1 <= max_gap)
    return filled, observed | short


def resample(values: np.ndarray, observed: np.ndarray, source_fps: float, target_fps: float
             ) -> tuple[np.ndarray, np.ndarray]:
    """Linear resampling along time, [T, ...] values + [T, ...] flags -> [T', ...], T' = 1 + floor((T-1) r).

    Output frame k is at time k / target_fps. It is observed when the source frames it is
    interpolated from are (one frame when k falls on a source frame).
    """
    frames = len(values)
    count = int(np.floor((frames - 1) * target_fps / source_fps + 1e-9)) + 1
    position = np.arange(count) * (source_fps / target_fps)
    lower = np.minimum(np.floor(position + 1e-9).astype(int), frames - 1)
    upper = np.minimum(lower + 1, frames - 1)
    weight = np.clip(position - lower, 0.0, 1.0)
    on_frame = weight < 1e-9
    shape = (count,) + (1,) * (values.ndim - 1)
    w = weight.reshape(shape)
    out = (1 - w) * values[lower] + np.where(w > 0, w * values[upper], 0.0)
    flags = observed[lower] & (observed[upper] | on_frame.reshape((count,) + (1,) * (observed.ndim - 1)))
    return out, flags


def smooth(points: np.ndarray, fps: float, min_cutoff: float, beta: float, d_cutoff: float) -> np.ndarray:
    """Zero-lag One-Euro smoothing along time, [T, J, 2] -> [T, J, 2].

    The filter of crossdiff.motion.filters runs forward, then backward over the result, so its
    lag cancels (the data are offline). Cutoffs are in Hz, `beta` in 1/(unit per second).
    """
    series = torch.from_numpy(np.ascontiguousarray(np.moveaxis(points, 0, -1)))[None]   # [1, J, 2, T]
    kwargs = dict(min_cutoff=min_cutoff, beta=beta, d_cutoff=d_cutoff, te=1.0 / fps)
    forward = one_euro_smooth(series, **kwargs)
    both = one_euro_smooth(forward.flip(-1), **kwargs).flip(-1)
    return np.moveaxis(both[0].numpy(), -1, 0)


def longest_run(flags: np.ndarray) -> tuple[int, int]:
    """[start, stop) of the longest stretch of True in `flags [T]` ((0, 0) if there is none)."""
    edges = np.diff(np.concatenate([[0], flags.astype(np.int8), [0]]))
    starts, stops = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    if len(starts) == 0:
        return 0, 0
    best = int(np.argmax(stops - starts))
    return int(starts[best]), int(stops[best])
