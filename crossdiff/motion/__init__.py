"""Motion representations: 263-d HumanML3D features, 134-d 2D features, statistics, filters, BVH."""
