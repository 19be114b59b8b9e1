"""tenderee representatives on evaluation committees (招标人代表)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03 09:00:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("expert") as batch:
        # the model's non-native Enum: a VARCHAR and its named CHECK (add_column would not make the CHECK)
        batch.add_column(sa.Column("kind", sa.String(20), nullable=False, server_default="pool"))
        batch.create_check_constraint(op.f("ck_expert_expertkind"), "kind IN ('pool', 'representative')")
    with op.batch_alter_table("evaluation_seat") as batch:
        batch.alter_column("member_id", existing_type=sa.Integer(), nullable=True)
        batch.add_column(
            sa.Column(
                "representative",
                sa.Boolean(),
                nullable=False,
                server_default=sa.false(),
                comment="招标人代表, named by the tenderee",
            )
        )
        batch.add_column(
            sa.Column("designated_by_user_id", sa.Integer(), nullable=True, comment="who named the representative")
        )
        batch.create_foreign_key(
            op.f("fk_evaluation_seat_designated_by_user_id_user_account"),
            "user_account",
            ["designated_by_user_id"],
            ["id"],
        )
        batch.create_check_constraint(
            op.f("ck_evaluation_seat_drawn_or_representative"),
            "(representative AND member_id IS NULL) OR (NOT representative AND member_id IS NOT NULL)",
        )


def downgrade() -> None:
    op.execute("DELETE FROM evaluation_seat WHERE representative")
    with op.batch_alter_table("evaluation_seat") as batch:
        batch.drop_constraint(op.f("ck_evaluation_seat_drawn_or_representative"), type_="check")
        batch.drop_constraint(op.f("fk_evaluation_seat_designated_by_user_id_user_account"), type_="foreignkey")
        batch.drop_column("designated_by_user_id")
        batch.drop_column("representative")
        batch.alter_column("member_id", existing_type=sa.Integer(), nullable=False)
    op.execute("DELETE FROM expert WHERE kind = 'representative'")
    with op.batch_alter_table("expert") as batch:
        batch.drop_constraint(op.f("ck_expert_expertkind"), type_="check")
        batch.drop_column("kind")
