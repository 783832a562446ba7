"""Each loaded cohort records the delivery its rows come from: cohorts.delivery, the archive's
delivery id (storage/archive.py `delivery_id`: a digest of the delivered files' names, sizes
and SHA-256s).

Revision ID: 006
Revises: 005
Create Date: 2026-12-01

Why: the archive (raw_archive's manifest) and the warehouse are written by two steps of one
run. A run killed between them leaves the archive on a new delivery and the warehouse on the
previous one; the landing sensor compares the two and reloads such a cohort
(docs/automation.md). The warehouse must therefore say which delivery it holds.

Existing rows get NULL: "not recorded". Computing the id needs SHA-256 in SQL, which the three
dialects do not share; readers work it out from the cohort's `cohort_files` rows instead
(`Warehouse.cohort_deliveries`), which hold the same names, sizes and checksums. A load
replaces the row, with its delivery.

Nullable, so on MySQL and PostgreSQL the column is added without rewriting the table; on
SQLite it is a plain ADD COLUMN (no rebuild). On MySQL the step runs only while still needed
(migrations/steps.py).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from energymobile.storage.migrations.steps import missing

revision: str = "006"
down_revision: str | None = "005"
branch_labels = None
depends_on = None

DELIVERY_ID_CHARS = 16
"""storage/archive.py DELIVERY_ID_HEX as of this revision."""


def upgrade() -> None:
    if missing("column", "cohorts", "delivery"):
        with op.batch_alter_table("cohorts") as batch:
            batch.add_column(sa.Column("delivery", sa.CHAR(DELIVERY_ID_CHARS), nullable=True))


def downgrade() -> None:
    raise NotImplementedError("the warehouse's migrations go forward only (docs/mysql.md)")
