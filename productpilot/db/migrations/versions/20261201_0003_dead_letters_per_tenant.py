"""dead letters per tenant: a run serving several tenants is a dead letter in each

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 21:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("dead_letters", schema=None) as batch_op:
        batch_op.drop_constraint("uq_dead_letters_flow_run_id", type_="unique")
        batch_op.create_unique_constraint(
            "uq_dead_letters_tenant_id_flow_run_id", ["tenant_id", "flow_run_id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("dead_letters", schema=None) as batch_op:
        batch_op.drop_constraint("uq_dead_letters_tenant_id_flow_run_id", type_="unique")
        batch_op.create_unique_constraint("uq_dead_letters_flow_run_id", ["flow_run_id"])
