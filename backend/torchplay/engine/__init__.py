"""The training engine: spec -> modules (build), a run's loop and bookkeeping (session, group),
measurements (probes, history). Knows no HTTP and no threads."""
