"""first-response SLA, SLA pause, virality and escalation state

Revision ID: 0004
Revises: 0003
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

import storage.types

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql")
When = storage.types.UTCDateTime(timezone=True)


def upgrade() -> None:
    # Plain ADD COLUMN (no table rebuild: other tables refer to tickets).
    op.add_column("tickets", sa.Column("first_response_due_at", When, nullable=True))
    op.add_column("tickets", sa.Column("sla_paused_at", When, nullable=True))
    op.create_table(
        "virality",
        sa.Column("ticket_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                  nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("peak_level", sa.Integer(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("state", JSON, nullable=False),
        sa.Column("evidence", JSON, nullable=False),
        sa.Column("last_report_id", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", When, nullable=False),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"],
                                name=op.f("fk_virality_ticket_id_tickets")),
        sa.PrimaryKeyConstraint("ticket_id", name=op.f("pk_virality")),
    )
    op.create_table(
        "escalations",
        sa.Column("ticket_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                  nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("reasons", JSON, nullable=False),
        sa.Column("keywords", JSON, nullable=False),
        sa.Column("breaches", JSON, nullable=False),
        sa.Column("last_report_id", sa.BigInteger(), nullable=False),
        sa.Column("notified_at", When, nullable=True),
        sa.Column("acknowledged_level", sa.Integer(), nullable=False),
        sa.Column("acknowledged_by", sa.String(length=120), nullable=True),
        sa.Column("acknowledged_at", When, nullable=True),
        sa.Column("updated_at", When, nullable=False),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"],
                                name=op.f("fk_escalations_ticket_id_tickets")),
        sa.PrimaryKeyConstraint("ticket_id", name=op.f("pk_escalations")),
    )


def downgrade() -> None:
    op.drop_table("escalations")
    op.drop_table("virality")
    with op.batch_alter_table("tickets") as batch:
        batch.drop_column("sla_paused_at")
        batch.drop_column("first_response_due_at")
