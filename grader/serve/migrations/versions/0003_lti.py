"""LTI 1.3: platform identities (issuer, deployment, sub: unique), score targets, the score outbox,
membership services.

Revision ID: 0003_lti
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_lti"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "lti_identities",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("issuer", sa.String(255), nullable=False),
        sa.Column("deployment_id", sa.String(255), nullable=False),
        sa.Column("sub", sa.String(255), nullable=False),
        # made by the tool, never from a claim; one identity per student id (staff have none)
        sa.Column("student_id", sa.String(64), sa.ForeignKey("students.id"), nullable=True, unique=True),
        sa.Column("name", sa.String(200), nullable=False, server_default=""),
        sa.Column("sourcedid", sa.String(255), nullable=False, server_default=""),
        sa.Column("staff", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("roles", sa.JSON, nullable=True),
        sa.UniqueConstraint("issuer", "deployment_id", "sub"),
    )
    op.create_table(
        "lti_targets",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("identity_id", sa.Integer, sa.ForeignKey("lti_identities.id"), nullable=False, index=True),
        sa.Column("issuer", sa.String(255), nullable=False),
        sa.Column("client_id", sa.String(255), nullable=False),
        sa.Column("lineitem", sa.String(1000), nullable=False),
        sa.Column("resource_link", sa.String(255), nullable=False, server_default=""),
        sa.Column("sub", sa.String(255), nullable=False),
        sa.Column("student_id", sa.String(64), sa.ForeignKey("students.id"), nullable=False, index=True),
        sa.UniqueConstraint("identity_id", "lineitem"),
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
        sa.Column("deployment_id", sa.String(255), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.String(300), nullable=False, server_default=""),
    )


def downgrade() -> None:
    for table in ("lti_memberships", "lti_outbox", "lti_targets", "lti_identities"):
        op.drop_table(table)
