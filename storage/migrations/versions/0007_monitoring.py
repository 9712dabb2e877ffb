"""monitoring: survey answers (IKM) and indexes for period figures

Revision ID: 0007
Revises: 0005 (0006 once the parallel branch that adds it is merged)
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.types

revision = "0007"
# The parallel branch adds 0006; until it is merged this follows 0005. On merging,
# set this to "0006" (the tables here do not depend on anything 0006 adds).
down_revision = "0005"
branch_labels = None
depends_on = None

When = storage.types.UTCDateTime(timezone=True)
Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "survey_answers",
        sa.Column("id", Id, nullable=False),
        sa.Column("ticket_id", Id, nullable=False),
        sa.Column("channel", sa.String(length=64), nullable=False),
        sa.Column("respondent", sa.String(length=120), nullable=False),
        sa.Column("element", sa.String(length=32), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("at", When, nullable=False),
        sa.ForeignKeyConstraint(["ticket_id"], ["tickets.id"],
                                name=op.f("fk_survey_answers_ticket_id_tickets")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_survey_answers")),
    )
    op.create_index("ix_survey_answers_at", "survey_answers", ["at"])
    op.create_index("ix_survey_answers_ticket", "survey_answers",
                    ["ticket_id", "respondent", "element"])
    op.create_index("ix_tickets_created", "tickets", ["created_at"])
    op.create_index("ix_reports_received", "reports", ["received_at"])
    op.create_index("ix_ticket_events_type_at", "ticket_events", ["type", "at"])


def downgrade() -> None:
    op.drop_index("ix_ticket_events_type_at", table_name="ticket_events")
    op.drop_index("ix_reports_received", table_name="reports")
    op.drop_index("ix_tickets_created", table_name="tickets")
    op.drop_index("ix_survey_answers_ticket", table_name="survey_answers")
    op.drop_index("ix_survey_answers_at", table_name="survey_answers")
    op.drop_table("survey_answers")
