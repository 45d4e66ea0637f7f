"""security findings: scanner and GitHub findings tracked across runs by fingerprint

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 09:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import productpilot.db.types

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "security_findings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("fingerprint", sa.String(length=300), nullable=False),
        sa.Column("source", sa.String(length=80), nullable=False),
        sa.Column("rule", sa.String(length=200), nullable=False),
        sa.Column("severity", sa.String(length=20), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("first_seen", productpilot.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_seen", productpilot.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", productpilot.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "details",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["products.id"],
            name=op.f("fk_security_findings_product_id_products"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_security_findings_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_security_findings")),
        sa.UniqueConstraint(
            "product_id", "fingerprint", name=op.f("uq_security_findings_product_id_fingerprint")
        ),
    )
    with op.batch_alter_table("security_findings", schema=None) as batch_op:
        batch_op.create_index(
            "ix_security_findings_product_id_status", ["product_id", "status"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_security_findings_tenant_id"), ["tenant_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("security_findings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_security_findings_tenant_id"))
        batch_op.drop_index("ix_security_findings_product_id_status")
    op.drop_table("security_findings")
