"""Numba kernels: integers and arrays only, no validation (that is the Python face's job)."""
