"""a tender terminated before publication has no issued documents: the CHECK allows it

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-04 20:10:00+00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NAME = "ck_tender_issued_when_public"


def _swap(condition: str) -> None:
    with op.batch_alter_table("tender", schema=None) as batch_op:
        batch_op.drop_constraint(op.f(NAME), type_="check")
        batch_op.create_check_constraint(op.f(NAME), condition)


def upgrade() -> None:
    _swap("status IN ('draft', 'submitted') OR docs_issued_at IS NOT NULL OR (status = 'terminated')")


def downgrade() -> None:
    # a tender terminated as a draft cannot be told apart from one published: it keeps no date
    op.execute("UPDATE tender SET docs_issued_at = updated_at WHERE docs_issued_at IS NULL AND status = 'terminated'")
    _swap("status IN ('draft', 'submitted') OR docs_issued_at IS NOT NULL")
