"""Measurement scripts, run from the repository root as `.venv/bin/python -m bench.NAME`."""
