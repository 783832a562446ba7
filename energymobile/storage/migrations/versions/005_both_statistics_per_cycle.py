"""Both statistics per cycle: each sensor's column becomes two, its first sample and its mean.

Revision ID: 005
Revises: 004
Create Date: 2026-12-02

Why: a sensor column (`ps1`) held each cycle's mean or its first sample, chosen per load (the
`statistic` setting, recorded only in cohorts.statistic), so two cohorts could mean different
things by the same column. Since 005 every load writes both, in columns that say which:
`ps1_first` (the cycle's first sample: the value of the scientists' template) and `ps1_mean`.

Existing rows keep what they hold, in the column that names it: a cohort loaded with
`statistic = 'mean'` has its values moved to `<sensor>_mean`, one loaded with `first` to
`<sensor>_first`; the other statistic is left NULL (the raw samples are not in the warehouse)
and cohorts.statistic keeps saying which one the cohort holds. The loader writes `both` there
from now on, so `statistic <> 'both'` lists the cohorts to re-derive from their archive
(docs/mysql.md, "Revision 005"). Hence the new columns are nullable; the loader refuses a
missing value in any of them.

Steps: the view goes (it names the old columns), the 34 columns are added, the old values are
copied per cohort's statistic, the 17 old columns are dropped, the view comes back with the
new columns. On MySQL each step runs only while still needed (migrations/steps.py), the copy
only from old columns still present, so a run stopped anywhere finishes when run again; the
adds are one ALTER, the drops another that also rebuilds the table (FORCE: MariaDB would
otherwise drop the columns "instantly", leaving them hidden in every row). SQLite adds the
columns in place and rebuilds the table once for the drops, in the upgrade's one transaction.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from energymobile.storage.migrations.steps import missing, present

revision: str = "005"
down_revision: str | None = "004"
branch_labels = None
depends_on = None

FACT = "sensor_hourly"
SENSORS = tuple("ps1 ps2 ps3 ps4 ps5 ps6 eps1 fs1 fs2 ts1 ts2 ts3 ts4 vs1 ce cp se".split())  # noqa: SIM905
"""The 17 sensor columns as 004 left them, in table order."""
STATISTICS = ("first", "mean")
"""The new columns: every `<sensor>_first`, then every `<sensor>_mean`."""
NEW_COLUMNS = tuple(f"{s}_{statistic}" for statistic in STATISTICS for s in SENSORS)

OIL_WELL_HOURLY = """
CREATE VIEW oil_well_hourly AS
SELECT
    h.cohort, h.cycle, h.date_time, h.cumulative_minutes,
    h.ps1_first, h.ps2_first, h.ps3_first, h.ps4_first, h.ps5_first, h.ps6_first,
    h.eps1_first, h.fs1_first, h.fs2_first, h.ts1_first, h.ts2_first, h.ts3_first,
    h.ts4_first, h.vs1_first, h.ce_first, h.cp_first, h.se_first,
    h.ps1_mean, h.ps2_mean, h.ps3_mean, h.ps4_mean, h.ps5_mean, h.ps6_mean,
    h.eps1_mean, h.fs1_mean, h.fs2_mean, h.ts1_mean, h.ts2_mean, h.ts3_mean,
    h.ts4_mean, h.vs1_mean, h.ce_mean, h.cp_mean, h.se_mean,
    p.cooler_condition, p.valve_condition, p.internal_pump_leakage,
    p.hydraulic_accumulator_bar, p.stable_flag,
    cc.description AS cooler_condition_description,
    vc.description AS valve_condition_description,
    pl.description AS internal_pump_leakage_description,
    ha.description AS hydraulic_accumulator_bar_description,
    sf.description AS stable_flag_description
FROM sensor_hourly h
JOIN condition_profiles p ON p.profile_id = h.profile_id
JOIN cooler_condition cc ON cc.code = p.cooler_condition
JOIN valve_condition vc ON vc.code = p.valve_condition
JOIN internal_pump_leakage pl ON pl.code = p.internal_pump_leakage
JOIN hydraulic_accumulator_bar ha ON ha.code = p.hydraulic_accumulator_bar
JOIN stable_flag sf ON sf.code = p.stable_flag
"""
"""The view as of 005: the keys, the 17 first samples, the 17 means, the codes and their words."""


def upgrade() -> None:
    op.execute("DROP VIEW IF EXISTS oil_well_hourly")
    mysql = op.get_context().dialect.name == "mysql"

    added = [name for name in NEW_COLUMNS if missing("column", FACT, name)]
    if added and mysql:  # one statement: one table rebuild at most, on any server version
        adds = ", ".join(f"ADD COLUMN {name} DOUBLE NULL" for name in added)
        op.execute(f"ALTER TABLE {FACT} {adds}")
    elif added:
        with op.batch_alter_table(FACT) as batch:  # nullable, no default: in place
            for name in added:
                batch.add_column(sa.Column(name, sa.Double(), nullable=True))

    # The values loaded before: into the column of the statistic each cohort was loaded with.
    old = [name for name in SENSORS if present("column", FACT, name)]
    if old:
        cohorts = sa.table("cohorts", sa.column("cohort"), sa.column("statistic"))
        fact = sa.table(FACT, sa.column("cohort"), *(sa.column(c) for c in (*old, *NEW_COLUMNS)))
        for statistic in STATISTICS:
            loaded_with = sa.select(cohorts.c.cohort).where(cohorts.c.statistic == statistic)
            op.execute(
                fact.update()
                .where(fact.c.cohort.in_(loaded_with))
                .values({f"{name}_{statistic}": fact.c[name] for name in old})
            )

    if old and mysql:
        drops = ", ".join(f"DROP COLUMN {name}" for name in old)
        op.execute(f"ALTER TABLE {FACT} {drops}, FORCE")
    elif old:
        with op.batch_alter_table(FACT) as batch:  # SQLite: one table rebuild
            for name in old:
                batch.drop_column(name)
    op.execute(OIL_WELL_HOURLY)


def downgrade() -> None:
    raise NotImplementedError("the warehouse's migrations go forward only (docs/mysql.md)")
