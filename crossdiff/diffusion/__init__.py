"""Gaussian diffusion: schedules, samplers and classifier-free guidance."""
