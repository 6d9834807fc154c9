"""The design-space explorer: sweeps of the project's own stages on Dask (docs/explore.md).

Sits on top of train/, hw/ and sim/ like demo/; nothing there imports it.
"""
