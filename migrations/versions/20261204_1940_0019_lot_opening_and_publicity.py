"""a lot's status follows its whole life: 开标中 (opening) and 公示中 (publicity) join the states

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-04 19:40:00+00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD = ("bidding", "failed", "evaluating", "terminated", "awarded")
NEW = ("bidding", "opening", "evaluating", "publicity", "failed", "terminated", "awarded")
#: The ceremony's stages between its opening at the deadline and its end.
OPEN_STAGES = ("sign_in", "bidders", "decrypting", "reading", "confirming")


def _swap_check(values: tuple[str, ...]) -> None:
    allowed = ", ".join(f"'{v}'" for v in values)
    with op.batch_alter_table("lot", schema=None) as batch_op:
        batch_op.drop_constraint("lotstate", type_="check")
        batch_op.create_check_constraint(op.f("lotstate"), f"status IN ({allowed})")


def upgrade() -> None:
    _swap_check(NEW)
    stages = ", ".join(f"'{s}'" for s in OPEN_STAGES)
    # Lots caught mid-life take the state they are really in: a ceremony under way, or candidates
    # being publicised. No audit event is written: the ceremony's and the evaluation's own events
    # already record these moments; this only names them on the lot.
    op.execute(
        "UPDATE lot SET status = 'opening' WHERE status = 'bidding' AND id IN "
        f"(SELECT lot_id FROM ceremony WHERE stage IN ({stages}))"
    )
    op.execute(
        "UPDATE lot SET status = 'publicity' WHERE status = 'evaluating' AND id IN "
        "(SELECT lot_id FROM evaluation WHERE state = 'publicity')"
    )


def downgrade() -> None:
    op.execute("UPDATE lot SET status = 'bidding' WHERE status = 'opening'")
    op.execute("UPDATE lot SET status = 'evaluating' WHERE status = 'publicity'")
    _swap_check(OLD)
