"""Datasets (HumanML3D/KIT folders, in-the-wild 2D, synthetic generator), words and collate functions."""
