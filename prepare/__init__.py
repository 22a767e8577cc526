"""Data-preparation command-line tools; each docstring lists the files it writes."""
