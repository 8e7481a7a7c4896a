"""Saved experiments (experiments.py), their exports (export.py) and generated scripts
(codegen.py)."""
