"""Body models: SMPL through smplx, the built-in mannequin, and fitting to joints."""
