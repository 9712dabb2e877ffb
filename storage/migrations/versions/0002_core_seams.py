"""core seams: outbox recipients, queue index, connector records, leases

Revision ID: 0002
Revises: 0001
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

import storage.types

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql")
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    # Outbox: an ordering key per recipient, so one recipient's messages stay in order
    # after a failure (the sender only sends a recipient's oldest pending messages).
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("recipient", sa.String(length=200), nullable=True))
    op.execute(
        "UPDATE outbox SET recipient = CASE "
        "WHEN reporter_id IS NOT NULL THEN 'r:' || CAST(reporter_id AS VARCHAR) "
        "WHEN ticket_id IS NOT NULL THEN 't:' || CAST(ticket_id AS VARCHAR) "
        "ELSE 'o:' || CAST(id AS VARCHAR) END"
    )
    with op.batch_alter_table("outbox") as batch:
        batch.alter_column("recipient", existing_type=sa.String(length=200), nullable=False)
        batch.create_index("ix_outbox_recipient", ["source", "recipient", "state", "id"])

    # Tickets: the index serves the queue's order; every ticket has an SLA due time (the
    # column stays nullable: SQLite would have to rebuild the referenced table).
    op.execute("UPDATE tickets SET sla_due_at = created_at WHERE sla_due_at IS NULL")
    op.drop_index("ix_tickets_queue", table_name="tickets")
    op.create_index("ix_tickets_queue", "tickets", [
        sa.text("escalation_level DESC"), sa.text("priority DESC"), "sla_due_at", "id"])

    # Connector-owned records replace the Telegram-only table (rows carried over).
    op.create_table(
        "connector_records",
        sa.Column("id", BigId, nullable=False),
        sa.Column("connector", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=256), nullable=False),
        sa.Column("data", JSON, nullable=False),
        sa.Column("created_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_connector_records")),
        sa.UniqueConstraint("connector", "kind", "key",
                            name=op.f("uq_connector_records_connector")),
    )
    op.create_index("ix_connector_records_age", "connector_records",
                    ["connector", "kind", "created_at"])
    op.execute(
        "INSERT INTO connector_records (connector, kind, key, data, created_at) "
        "SELECT source, kind, chat_id || ':' || ref, data, created_at FROM telegram_pending"
    )
    with op.batch_alter_table("telegram_pending") as batch:
        batch.drop_index("ix_telegram_pending_due")
    op.drop_table("telegram_pending")

    op.create_table(
        "leases",
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("holder", sa.String(length=120), nullable=False),
        sa.Column("expires_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("acquired_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_leases")),
    )


def downgrade() -> None:
    op.drop_table("leases")
    op.create_table(
        "telegram_pending",
        sa.Column("id", BigId, nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("chat_id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("ref", sa.String(length=128), nullable=False),
        sa.Column("data", JSON, nullable=False),
        sa.Column("created_at", storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_telegram_pending")),
        sa.UniqueConstraint("source", "chat_id", "kind", "ref",
                            name=op.f("uq_telegram_pending_source")),
    )
    op.create_index("ix_telegram_pending_due", "telegram_pending",
                    ["source", "kind", "created_at"])
    op.drop_index("ix_connector_records_age", table_name="connector_records")
    op.drop_table("connector_records")
    op.drop_index("ix_tickets_queue", table_name="tickets")
    op.create_index("ix_tickets_queue", "tickets",
                    ["state", "escalation_level", "priority", "created_at"])
    with op.batch_alter_table("outbox") as batch:
        batch.drop_index("ix_outbox_recipient")
        batch.drop_column("recipient")
