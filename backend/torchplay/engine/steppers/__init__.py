"""How a step is computed fast: the traced replay, K variants batched, the batch compiled."""
