"""Where a run's points come from: the toy generators and input features (toy.py)."""
