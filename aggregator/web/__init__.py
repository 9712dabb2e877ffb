"""The staff-facing HTTP side: JSON API (and later the web UI)."""
