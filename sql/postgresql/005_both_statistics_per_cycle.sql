-- energymobile warehouse schema, revision 005 for postgresql:
-- Both statistics per cycle: each sensor's column becomes two, its first sample and its mean.
-- Generated from energymobile/storage/migrations/versions/005_both_statistics_per_cycle.py by `make sql`
-- (alembic upgrade 004:005 --sql); do not edit. How to apply it: docs/postgres.md.

BEGIN;

-- Running upgrade 004 -> 005

DROP VIEW IF EXISTS oil_well_hourly;

ALTER TABLE sensor_hourly ADD COLUMN ps1_first DOUBLE PRECISION;

ALTER TABLE sensor_hourly ADD COLUMN ps2_first DOUBLE PRECISION;

ALTER TABLE sensor_hourly ADD COLUMN ps3_first DOUBLE PRECISION;

ALTER TABLE sensor_hourly ADD COLUMN ps4_first DOUBLE PRECISION;

ALTER TABLE sensor_hourly ADD COLUMN ps5_first DOUBLE PRECISION;

ALTER TABLE sensor_hourly ADD COLUMN ps6_first DOUBLE PRECISION;

ALTER TABLE sensor_hourly ADD COLUMN eps1_first DOUBLE PRECISION;

ALTER TABLE sensor_hourly ADD COLUMN fs1_first DOUBLE PRECISION;

ALTER TABLE sensor_hourly ADD COLUMN fs2_first DOUBLE PRECISION;

ALTER TABLE sensor_hourly ADD COLUMN ts1_first DOUBLE PRECISION;

ALTER TABLE sensor_hourly ADD COLUMN ts2_first DOUBLE PRECISION;

ALTER TABLE sensor_hourly ADD COLUMN ts3_first DOUBLE PRECISION;

ALTER TABLE sensor_hourly ADD COLUMN ts4_first DOUBLE PRECISION;

ALTER TABLE sensor_hourly ADD COLUMN vs1_first DOUBLE PRECISION;

ALTER TABLE sensor_hourly ADD COLUMN ce_first DOUBLE PRECISION;

ALTER TABLE sensor_hourly ADD COLUMN cp_first DOUBLE PRECISION;

ALTER TABLE sensor_hourly ADD COLUMN se_first DOUBLE PRECISION;

ALTER TABLE sensor_hourly ADD COLUMN ps1_mean DOUBLE PRECISION;

ALTER TABLE sensor_hourly ADD COLUMN ps2_mean DOUBLE PRECISION;

ALTER TABLE sensor_hourly ADD COLUMN ps3_mean DOUBLE PRECISION;

ALTER TABLE sensor_hourly ADD COLUMN ps4_mean DOUBLE PRECISION;

ALTER TABLE sensor_hourly ADD COLUMN ps5_mean DOUBLE PRECISION;

ALTER TABLE sensor_hourly ADD COLUMN ps6_mean DOUBLE PRECISION;

ALTER TABLE sensor_hourly ADD COLUMN eps1_mean DOUBLE PRECISION;

ALTER TABLE sensor_hourly ADD COLUMN fs1_mean DOUBLE PRECISION;

ALTER TABLE sensor_hourly ADD COLUMN fs2_mean DOUBLE PRECISION;

ALTER TABLE sensor_hourly ADD COLUMN ts1_mean DOUBLE PRECISION;

ALTER TABLE sensor_hourly ADD COLUMN ts2_mean DOUBLE PRECISION;

ALTER TABLE sensor_hourly ADD COLUMN ts3_mean DOUBLE PRECISION;

ALTER TABLE sensor_hourly ADD COLUMN ts4_mean DOUBLE PRECISION;

ALTER TABLE sensor_hourly ADD COLUMN vs1_mean DOUBLE PRECISION;

ALTER TABLE sensor_hourly ADD COLUMN ce_mean DOUBLE PRECISION;

ALTER TABLE sensor_hourly ADD COLUMN cp_mean DOUBLE PRECISION;

ALTER TABLE sensor_hourly ADD COLUMN se_mean DOUBLE PRECISION;

UPDATE sensor_hourly SET ps1_first=sensor_hourly.ps1, ps2_first=sensor_hourly.ps2, ps3_first=sensor_hourly.ps3, ps4_first=sensor_hourly.ps4, ps5_first=sensor_hourly.ps5, ps6_first=sensor_hourly.ps6, eps1_first=sensor_hourly.eps1, fs1_first=sensor_hourly.fs1, fs2_first=sensor_hourly.fs2, ts1_first=sensor_hourly.ts1, ts2_first=sensor_hourly.ts2, ts3_first=sensor_hourly.ts3, ts4_first=sensor_hourly.ts4, vs1_first=sensor_hourly.vs1, ce_first=sensor_hourly.ce, cp_first=sensor_hourly.cp, se_first=sensor_hourly.se WHERE sensor_hourly.cohort IN (SELECT cohorts.cohort 
FROM cohorts 
WHERE cohorts.statistic = 'first');

UPDATE sensor_hourly SET ps1_mean=sensor_hourly.ps1, ps2_mean=sensor_hourly.ps2, ps3_mean=sensor_hourly.ps3, ps4_mean=sensor_hourly.ps4, ps5_mean=sensor_hourly.ps5, ps6_mean=sensor_hourly.ps6, eps1_mean=sensor_hourly.eps1, fs1_mean=sensor_hourly.fs1, fs2_mean=sensor_hourly.fs2, ts1_mean=sensor_hourly.ts1, ts2_mean=sensor_hourly.ts2, ts3_mean=sensor_hourly.ts3, ts4_mean=sensor_hourly.ts4, vs1_mean=sensor_hourly.vs1, ce_mean=sensor_hourly.ce, cp_mean=sensor_hourly.cp, se_mean=sensor_hourly.se WHERE sensor_hourly.cohort IN (SELECT cohorts.cohort 
FROM cohorts 
WHERE cohorts.statistic = 'mean');

ALTER TABLE sensor_hourly DROP COLUMN ps1;

ALTER TABLE sensor_hourly DROP COLUMN ps2;

ALTER TABLE sensor_hourly DROP COLUMN ps3;

ALTER TABLE sensor_hourly DROP COLUMN ps4;

ALTER TABLE sensor_hourly DROP COLUMN ps5;

ALTER TABLE sensor_hourly DROP COLUMN ps6;

ALTER TABLE sensor_hourly DROP COLUMN eps1;

ALTER TABLE sensor_hourly DROP COLUMN fs1;

ALTER TABLE sensor_hourly DROP COLUMN fs2;

ALTER TABLE sensor_hourly DROP COLUMN ts1;

ALTER TABLE sensor_hourly DROP COLUMN ts2;

ALTER TABLE sensor_hourly DROP COLUMN ts3;

ALTER TABLE sensor_hourly DROP COLUMN ts4;

ALTER TABLE sensor_hourly DROP COLUMN vs1;

ALTER TABLE sensor_hourly DROP COLUMN ce;

ALTER TABLE sensor_hourly DROP COLUMN cp;

ALTER TABLE sensor_hourly DROP COLUMN se;

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
JOIN stable_flag sf ON sf.code = p.stable_flag;

UPDATE alembic_version SET version_num='005' WHERE alembic_version.version_num = '004';

COMMIT;

