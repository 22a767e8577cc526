"""Training: losses per cross path and mode, the trainer loop, checkpoints."""
