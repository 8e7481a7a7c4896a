"""The experiment spec: ExperimentSpec and its parts, bounds, merge patches, migrations of
old links (model.py), and the generated reference docs/spec.md (doc.py)."""
