"""decryption jobs count their attempts (a job that keeps killing its worker is set aside after
three); a ceremony's private key is stored wrapped under the platform's key-encryption key

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-04 16:30:00+00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_COMMENT = "PKCS#8 DER; destroyed when the ceremony ends"
NEW_COMMENT = "PKCS#8 DER wrapped with the platform KEK (SM4-GCM, the ceremony id bound); destroyed at the end"


def upgrade() -> None:
    with op.batch_alter_table("decryption_job") as batch:
        batch.add_column(
            sa.Column(
                "attempts",
                sa.Integer(),
                nullable=False,
                server_default="0",
                comment="times a worker took the job; after three it is set aside",
            )
        )
    with op.batch_alter_table("ceremony") as batch:
        batch.alter_column(
            "private_key",
            existing_type=sa.LargeBinary(),
            existing_nullable=True,
            comment=NEW_COMMENT,
            existing_comment=OLD_COMMENT,
        )


def downgrade() -> None:
    with op.batch_alter_table("ceremony") as batch:
        batch.alter_column(
            "private_key",
            existing_type=sa.LargeBinary(),
            existing_nullable=True,
            comment=OLD_COMMENT,
            existing_comment=NEW_COMMENT,
        )
    with op.batch_alter_table("decryption_job") as batch:
        batch.drop_column("attempts")
