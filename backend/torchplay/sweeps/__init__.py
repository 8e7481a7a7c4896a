"""Sweeps: hyperparameter searches trained as few batched groups (spec, sampling, training)."""
