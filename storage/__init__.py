"""Persistence: SQLAlchemy models, engine setup, repository helpers and migrations."""
