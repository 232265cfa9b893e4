"""What contacts did: fetch the activity the scoring rules count, only when it changed (see enrich.py)."""
