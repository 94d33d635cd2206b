"""One module per area of the Public API; each function serves one operation (see routing.py)."""
