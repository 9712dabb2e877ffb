"""staff web UI: browser sessions, units, full-text search over reports

Revision ID: 0006
Revises: 0005

Search is dialect-specific (see aggregator/tickets/search.py):
- SQLite: `reports_fts`, an FTS5 external-content table over reports(title, text),
  kept in step by three triggers; ranked with bm25().
- PostgreSQL: `reports.search`, a generated tsvector ('simple' configuration over the
  text split where unicode61 splits it, so both find the same words) with a GIN index;
  websearch_to_tsquery.
A later migration that rebuilds `reports` in SQLite batch mode must recreate the
triggers (a table rebuild drops them).
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.types

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

When = storage.types.UTCDateTime(timezone=True)
Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

SQLITE_UP = [
    "CREATE VIRTUAL TABLE reports_fts USING fts5(title, text, content='reports',"
    " content_rowid='id', tokenize='unicode61 remove_diacritics 2')",
    "CREATE TRIGGER reports_fts_ai AFTER INSERT ON reports BEGIN"
    " INSERT INTO reports_fts(rowid, title, text) VALUES (new.id, new.title, new.text);"
    " END",
    "CREATE TRIGGER reports_fts_ad AFTER DELETE ON reports BEGIN"
    " INSERT INTO reports_fts(reports_fts, rowid, title, text)"
    " VALUES ('delete', old.id, old.title, old.text);"
    " END",
    "CREATE TRIGGER reports_fts_au AFTER UPDATE OF title, text ON reports BEGIN"
    " INSERT INTO reports_fts(reports_fts, rowid, title, text)"
    " VALUES ('delete', old.id, old.title, old.text);"
    " INSERT INTO reports_fts(rowid, title, text) VALUES (new.id, new.title, new.text);"
    " END",
    "INSERT INTO reports_fts(reports_fts) VALUES ('rebuild')",
    # Maps matching report ids to their tickets without reading the reports' rows.
    "CREATE INDEX ix_reports_id_ticket ON reports (id, ticket_id)",
]
SQLITE_DOWN = [
    "DROP INDEX IF EXISTS ix_reports_id_ticket",
    "DROP TRIGGER IF EXISTS reports_fts_au",
    "DROP TRIGGER IF EXISTS reports_fts_ad",
    "DROP TRIGGER IF EXISTS reports_fts_ai",
    "DROP TABLE IF EXISTS reports_fts",
]
POSTGRES_UP = [
    # Split where SQLite's unicode61 splits (anything not a letter or digit), so both
    # databases find the same words: PostgreSQL's parser alone reads `RT-05` as `rt`
    # and the number `-05`, and an e-mail address as one token.
    "ALTER TABLE reports ADD COLUMN search tsvector GENERATED ALWAYS AS"
    " (to_tsvector('simple'::regconfig, regexp_replace(coalesce(title, '') || ' ' || text,"
    " '[^[:alnum:]]+', ' ', 'g'))) STORED",
    "CREATE INDEX ix_reports_search ON reports USING gin (search)",
]
POSTGRES_DOWN = [
    "DROP INDEX IF EXISTS ix_reports_search",
    "ALTER TABLE reports DROP COLUMN IF EXISTS search",
]


def upgrade() -> None:
    op.create_table(
        "web_sessions",
        sa.Column("id", Id, nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", Id, nullable=False),
        sa.Column("csrf", sa.String(length=64), nullable=False),
        sa.Column("client", sa.String(length=100), nullable=True),
        sa.Column("created_at", When, nullable=False),
        sa.Column("last_seen_at", When, nullable=False),
        sa.Column("expires_at", When, nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"],
                                name=op.f("fk_web_sessions_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_web_sessions")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_web_sessions_token_hash")),
    )
    op.create_index(op.f("ix_web_sessions_user_id"), "web_sessions", ["user_id"])
    op.create_index("ix_web_sessions_expires", "web_sessions", ["expires_at"])
    # The channels of a page of tickets, and the queue's channel filter, read only this.
    op.create_index("ix_reports_ticket_channel", "reports", ["ticket_id", "channel"])
    op.create_table(
        "units",
        sa.Column("id", Id, nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("description", sa.String(length=300), nullable=True),
        sa.Column("created_at", When, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_units")),
        sa.UniqueConstraint("name", name=op.f("uq_units_name")),
    )
    statements = SQLITE_UP if op.get_bind().dialect.name == "sqlite" else POSTGRES_UP
    for sql in statements:
        op.execute(sql)


def downgrade() -> None:
    statements = SQLITE_DOWN if op.get_bind().dialect.name == "sqlite" else POSTGRES_DOWN
    for sql in statements:
        op.execute(sql)
    op.drop_table("units")
    op.drop_index("ix_reports_ticket_channel", table_name="reports")
    op.drop_index("ix_web_sessions_expires", table_name="web_sessions")
    op.drop_index(op.f("ix_web_sessions_user_id"), table_name="web_sessions")
    op.drop_table("web_sessions")
