"""Rendering: matplotlib stick figures and the Blender scene."""
