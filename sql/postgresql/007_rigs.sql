-- energymobile warehouse schema, revision 007 for postgresql:
-- The rig as a dimension: a `rigs` table (site, well, name), the rig on every row of cohorts,
-- cohort_files and sensor_hourly, and the keys (rig, cohort[, cycle]).
-- Generated from energymobile/storage/migrations/versions/007_rigs.py by `make sql`
-- (alembic upgrade 006:007 --sql); do not edit. How to apply it: docs/postgres.md.

BEGIN;

-- Running upgrade 006 -> 007

DROP VIEW IF EXISTS oil_well_hourly;

CREATE TABLE rigs (
    rig_id SERIAL NOT NULL, 
    site VARCHAR(64) NOT NULL, 
    well VARCHAR(64) NOT NULL, 
    name VARCHAR(64) NOT NULL, 
    PRIMARY KEY (rig_id), 
    CONSTRAINT uq_rigs_site_name UNIQUE (site, name)
);

INSERT INTO rigs (rig_id, site, well, name) VALUES (1, 'default', 'default', 'default');

SELECT setval(pg_get_serial_sequence('rigs', 'rig_id'), 1);

ALTER TABLE cohort_files DROP CONSTRAINT fk_cohort_files_cohort;

ALTER TABLE sensor_hourly DROP CONSTRAINT fk_sensor_hourly_cohort;

ALTER TABLE cohorts ADD COLUMN rig_id INTEGER DEFAULT 1 NOT NULL;

ALTER TABLE cohorts ALTER COLUMN rig_id DROP DEFAULT;

ALTER TABLE cohorts DROP CONSTRAINT cohorts_pkey;

ALTER TABLE cohorts ADD CONSTRAINT cohorts_pkey PRIMARY KEY (rig_id, cohort);

ALTER TABLE cohorts ADD CONSTRAINT fk_cohorts_rig FOREIGN KEY(rig_id) REFERENCES rigs (rig_id);

ALTER TABLE cohort_files ADD COLUMN rig_id INTEGER DEFAULT 1 NOT NULL;

ALTER TABLE cohort_files ALTER COLUMN rig_id DROP DEFAULT;

ALTER TABLE cohort_files DROP CONSTRAINT cohort_files_pkey;

ALTER TABLE cohort_files ADD CONSTRAINT cohort_files_pkey PRIMARY KEY (rig_id, cohort, file_name);

ALTER TABLE cohort_files ADD CONSTRAINT fk_cohort_files_cohort FOREIGN KEY(rig_id, cohort) REFERENCES cohorts (rig_id, cohort);

ALTER TABLE sensor_hourly ADD COLUMN rig_id INTEGER DEFAULT 1 NOT NULL;

ALTER TABLE sensor_hourly ALTER COLUMN rig_id DROP DEFAULT;

ALTER TABLE sensor_hourly DROP CONSTRAINT sensor_hourly_pkey;

ALTER TABLE sensor_hourly ADD CONSTRAINT sensor_hourly_pkey PRIMARY KEY (rig_id, cohort, cycle);

ALTER TABLE sensor_hourly ADD CONSTRAINT fk_sensor_hourly_cohort FOREIGN KEY(rig_id, cohort) REFERENCES cohorts (rig_id, cohort);

CREATE VIEW oil_well_hourly AS
SELECT
    r.site, r.name AS rig,
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
JOIN rigs r ON r.rig_id = h.rig_id
JOIN condition_profiles p ON p.profile_id = h.profile_id
JOIN cooler_condition cc ON cc.code = p.cooler_condition
JOIN valve_condition vc ON vc.code = p.valve_condition
JOIN internal_pump_leakage pl ON pl.code = p.internal_pump_leakage
JOIN hydraulic_accumulator_bar ha ON ha.code = p.hydraulic_accumulator_bar
JOIN stable_flag sf ON sf.code = p.stable_flag;

UPDATE alembic_version SET version_num='007' WHERE alembic_version.version_num = '006';

COMMIT;

