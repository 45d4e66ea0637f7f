"""notification routing: routes, suppressed duplicates, threads, claims, escalations

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 20:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import productpilot.db.types

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("route_key", sa.String(length=64), nullable=False, server_default="")
        )
        batch_op.add_column(
            sa.Column("suppressed", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(sa.Column("thread_id", sa.String(length=200), nullable=True))
        batch_op.add_column(
            sa.Column("claimed_at", productpilot.db.types.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column(
                "digest_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
            )
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_notifications_digest_id_notifications"),
            "notifications",
            ["digest_id"],
            ["id"],
            ondelete="CASCADE",
        )
        batch_op.create_index(batch_op.f("ix_notifications_digest_id"), ["digest_id"], unique=False)
        batch_op.add_column(
            sa.Column(
                "escalation_of", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
            )
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_notifications_escalation_of_notifications"),
            "notifications",
            ["escalation_of"],
            ["id"],
            ondelete="SET NULL",
        )
        batch_op.create_index(
            "ix_notifications_channel_recipient",
            ["tenant_id", "channel", "recipient"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_index("ix_notifications_channel_recipient")
        batch_op.drop_constraint(
            batch_op.f("fk_notifications_escalation_of_notifications"), type_="foreignkey"
        )
        batch_op.drop_column("escalation_of")
        batch_op.drop_index(batch_op.f("ix_notifications_digest_id"))
        batch_op.drop_constraint(
            batch_op.f("fk_notifications_digest_id_notifications"), type_="foreignkey"
        )
        batch_op.drop_column("digest_id")
        batch_op.drop_column("claimed_at")
        batch_op.drop_column("thread_id")
        batch_op.drop_column("suppressed")
        batch_op.drop_column("route_key")
