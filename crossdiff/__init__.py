"""CrossDiff: text-to-motion with cross-diffusion of 3D and 2D motion (Ren, Huang, Li; ECCV 2024).

Importing the package has no side effects; submodules are imported where they are used.
"""

__version__ = "0.1.0"
