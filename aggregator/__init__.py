"""Multi-channel complaint (aduan) aggregation service."""

__version__ = "0.1.0"
