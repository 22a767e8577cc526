"""Denoising networks: CrossDiff and the MDM baseline."""
