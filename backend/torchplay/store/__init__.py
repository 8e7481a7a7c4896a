"""Saved experiments (experiments.py) in a SQLite file or PostgreSQL (backends.py), owner
tokens and quotas (access.py), store commands (commands.py), their exports (export.py) and
generated scripts (codegen.py)."""
