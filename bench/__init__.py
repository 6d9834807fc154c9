"""Measurement scripts, run from the repository root as `.venv/bin/python -m bench.NAME`."""

from pathlib import Path

# where the records that the docs quote live (results/README.md indexes them); benches that
# keep their records by default write here, whatever the working directory
RESULTS = Path(__file__).resolve().parents[1] / "results"
