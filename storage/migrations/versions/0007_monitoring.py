"""monitoring: survey answers (IKM), figure cells, indexes for period reads

Revision ID: 0007
Revises: 0006
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

import storage.types

revision = "0007"
# The parallel branch adds 0006; until it is merged this follows 0005. On merging,
# set this to "0006" (the tables here do not depend on anything 0006 adds).
down_revision = "0006"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql")
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
    op.create_table(
        "monitoring_cells",
        sa.Column("id", Id, nullable=False),
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("unit", sa.String(length=100), nullable=True),
        sa.Column("confidential", sa.Boolean(), nullable=False),
        sa.Column("channel", sa.String(length=64), nullable=False),
        sa.Column("tickets", sa.Integer(), nullable=False),
        sa.Column("open", sa.Integer(), nullable=False),
        sa.Column("resolved", sa.Integer(), nullable=False),
        sa.Column("frm", sa.Integer(), nullable=False),
        sa.Column("frb", sa.Integer(), nullable=False),
        sa.Column("rsm", sa.Integer(), nullable=False),
        sa.Column("rsb", sa.Integer(), nullable=False),
        sa.Column("kinds", sa.LargeBinary(), nullable=True),
        sa.Column("states", sa.LargeBinary(), nullable=True),
        sa.Column("fr", sa.LargeBinary(), nullable=True),
        sa.Column("rs", sa.LargeBinary(), nullable=True),
        sa.Column("frd", sa.LargeBinary(), nullable=True),
        sa.Column("rsd", sa.LargeBinary(), nullable=True),
        sa.Column("reports", sa.Integer(), nullable=False),
        sa.Column("report_kinds", sa.LargeBinary(), nullable=True),
        sa.Column("served", sa.Integer(), nullable=False),
        sa.Column("respondents", sa.Integer(), nullable=False),
        sa.Column("survey", sa.LargeBinary(), nullable=True),
        sa.Column("top", sa.LargeBinary(), nullable=True),
        sa.Column("extra", JSON, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monitoring_cells")),
    )
    op.create_index("ix_monitoring_cells_day", "monitoring_cells", [
        "day", "channel", "unit", "confidential", "tickets", "reports", "open", "resolved",
        "frm", "frb", "rsm", "rsb", "served", "respondents"])
    op.create_table(
        "monitoring_places",
        sa.Column("id", Id, nullable=False),
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("unit", sa.String(length=100), nullable=True),
        sa.Column("channel", sa.String(length=64), nullable=False),
        sa.Column("place", sa.String(length=200), nullable=False),
        sa.Column("reports", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monitoring_places")),
    )
    op.create_index("ix_monitoring_places_day", "monitoring_places",
                    ["day", "place", "reports", "unit", "channel"])
    op.create_table(
        "monitoring_rollup",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("checked_at", When, nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_monitoring_rollup")),
    )
    op.create_index("ix_tickets_created", "tickets", ["created_at"])
    op.create_index("ix_tickets_resolved", "tickets", ["resolved_at"])
    op.create_index("ix_reports_received", "reports", ["received_at"])
    op.create_index("ix_ticket_events_type_at", "ticket_events", ["type", "at"])


def downgrade() -> None:
    op.drop_index("ix_ticket_events_type_at", table_name="ticket_events")
    op.drop_index("ix_reports_received", table_name="reports")
    op.drop_index("ix_tickets_resolved", table_name="tickets")
    op.drop_index("ix_tickets_created", table_name="tickets")
    op.drop_table("monitoring_rollup")
    op.drop_index("ix_monitoring_places_day", table_name="monitoring_places")
    op.drop_table("monitoring_places")
    op.drop_index("ix_monitoring_cells_day", table_name="monitoring_cells")
    op.drop_table("monitoring_cells")
    op.drop_index("ix_survey_answers_ticket", table_name="survey_answers")
    op.drop_index("ix_survey_answers_at", table_name="survey_answers")
    op.drop_table("survey_answers")
