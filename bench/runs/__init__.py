"""Runs: planning the grid (`plan`, `sweep`), a run's identity and folder (`identity`, `folder`, `record`, `lock`),
the run step (`evaluate`, `localisation_step`, `execute`), executors (local, Ray), the dry run, reading run trees
(`scan`) and experiment tracking."""
