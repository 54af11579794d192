"""Sessions (a random id per sign-in, only its sha256 kept), the staff audit log, and each grading's
status (so that a grader error is told apart from a student's attempt without reading the report).

Revision ID: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sessions",
        sa.Column("id_hash", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(8), nullable=False),  # student or staff
        sa.Column("student_id", sa.String(64), sa.ForeignKey("students.id"), nullable=True, index=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "audit",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False, index=True),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("detail", sa.String(2000), nullable=False, server_default=""),
        sa.Column("client", sa.String(64), nullable=False, server_default=""),
    )
    with op.batch_alter_table("gradings") as batch:
        batch.add_column(sa.Column("status", sa.String(16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("gradings") as batch:
        batch.drop_column("status")
    op.drop_table("audit")
    op.drop_table("sessions")
