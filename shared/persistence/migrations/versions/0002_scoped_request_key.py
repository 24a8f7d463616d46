"""results keyed by (tenant_id, feature, request_id), with a request fingerprint

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02

`request_id` is chosen by the producing apps, so it is unique only within one tenant and one
feature. The unique key becomes (tenant_id, feature, request_id); `request_fingerprint`
(SHA-256 of what defines the request) tells a replay from a conflicting reuse of a key.

Existing rows keep a NULL fingerprint: it cannot be rebuilt (only a hash of the input was
stored), and NULL means "unknown: a replay under this key and user is a replay", so an event
redelivered across the upgrade still gets its stored result. Rows from 0001 satisfy the new
key, since their request_id alone was unique.

The incremental-state index now leads with tenant and user, as the lookup does.

Downgrade restores the request_id-only key; it fails (and changes nothing) if two tenants or
features have meanwhile stored the same request_id, since 0001 cannot hold both rows.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # batch_alter_table: SQLite cannot drop a constraint in place, so the table is rebuilt
    # (rows copied) there; PostgreSQL gets plain ALTER TABLE statements.
    with op.batch_alter_table("results") as batch:
        batch.add_column(sa.Column("request_fingerprint", sa.String(length=64), nullable=True))
        batch.drop_constraint("uq_results_request_id", type_="unique")
        batch.create_unique_constraint(
            "uq_results_request_key", ["tenant_id", "feature", "request_id"]
        )
        batch.drop_index("ix_results_feature_subject")
        batch.create_index(
            "ix_results_subject", ["tenant_id", "user_id", "feature", "subject_key", "id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("results") as batch:
        batch.drop_index("ix_results_subject")
        batch.create_index("ix_results_feature_subject", ["feature", "subject_key", "id"])
        batch.drop_constraint("uq_results_request_key", type_="unique")
        batch.create_unique_constraint("uq_results_request_id", ["request_id"])
        batch.drop_column("request_fingerprint")
