"""LTI 1.3: logins in flight, platform users, score targets, the score outbox, membership services.

Revision ID: 0004_lti
Revises: 0001 (rebased onto the newest migration at merge)
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_lti"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "lti_logins",
        sa.Column("state", sa.String(64), primary_key=True),
        sa.Column("nonce", sa.String(64), nullable=False),
        sa.Column("issuer", sa.String(255), nullable=False),
        sa.Column("client_id", sa.String(255), nullable=False),
        sa.Column("target", sa.String(1000), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, index=True),
    )
    op.create_table(
        "lti_users",
        sa.Column("issuer", sa.String(255), primary_key=True),
        sa.Column("sub", sa.String(255), primary_key=True),
        # staff have no Student row: their id is only a name here
        sa.Column("student_id", sa.String(64), nullable=False, index=True),
        sa.Column("name", sa.String(200), nullable=False, server_default=""),
        sa.Column("staff", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("roles", sa.JSON, nullable=True),
    )
    op.create_table(
        "lti_targets",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("issuer", sa.String(255), nullable=False),
        sa.Column("client_id", sa.String(255), nullable=False),
        sa.Column("lineitem", sa.String(1000), nullable=False),
        sa.Column("sub", sa.String(255), nullable=False),
        sa.Column("student_id", sa.String(64), sa.ForeignKey("students.id"), nullable=False, index=True),
        sa.UniqueConstraint("issuer", "lineitem", "sub"),
    )
    op.create_table(
        "lti_outbox",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("target_id", sa.Integer, sa.ForeignKey("lti_targets.id"), nullable=False, index=True),
        sa.Column("score_given", sa.Float, nullable=False),
        sa.Column("score_maximum", sa.Float, nullable=False),
        sa.Column("timestamp", sa.String(40), nullable=False),
        sa.Column("state", sa.String(16), nullable=False, index=True),
        sa.Column("tries", sa.Integer, nullable=False, server_default="0"),
        sa.Column("next_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("error", sa.String(300), nullable=False, server_default=""),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "lti_memberships",
        sa.Column("url", sa.String(1000), primary_key=True),
        sa.Column("issuer", sa.String(255), nullable=False),
        sa.Column("client_id", sa.String(255), nullable=False),
        sa.Column("lineitem", sa.String(1000), nullable=False, server_default=""),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    for table in ("lti_memberships", "lti_outbox", "lti_targets", "lti_users", "lti_logins"):
        op.drop_table(table)
