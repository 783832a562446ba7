-- energymobile warehouse schema, revision 004 for mysql:
-- The five condition codes of sensor_hourly become one key of a junk dimension,
-- condition_profiles: one row per documented combination of codes.
-- Generated from energymobile/storage/migrations/versions/004_condition_profiles.py by `make sql`
-- (alembic upgrade 003:004 --sql); do not edit. How to apply it: docs/mysql.md.

-- Running upgrade 003 -> 004

CREATE TABLE IF NOT EXISTS condition_profiles (
    profile_id BIGINT NOT NULL, 
    cooler_condition SMALLINT NOT NULL, 
    valve_condition SMALLINT NOT NULL, 
    internal_pump_leakage SMALLINT NOT NULL, 
    hydraulic_accumulator_bar SMALLINT NOT NULL, 
    stable_flag SMALLINT NOT NULL, 
    PRIMARY KEY (profile_id), 
    CONSTRAINT uq_condition_profiles_codes UNIQUE (cooler_condition, valve_condition, internal_pump_leakage, hydraulic_accumulator_bar, stable_flag), 
    CONSTRAINT ck_condition_profiles_id CHECK (valve_condition BETWEEN 0 AND 999 AND internal_pump_leakage BETWEEN 0 AND 9 AND hydraulic_accumulator_bar BETWEEN 0 AND 999 AND stable_flag BETWEEN 0 AND 9 AND profile_id = (((CAST(cooler_condition AS SIGNED INTEGER) * 1000 + valve_condition) * 10 + internal_pump_leakage) * 1000 + hydraulic_accumulator_bar) * 10 + stable_flag), 
    CONSTRAINT fk_condition_profiles_cooler FOREIGN KEY(cooler_condition) REFERENCES cooler_condition (code), 
    CONSTRAINT fk_condition_profiles_valve FOREIGN KEY(valve_condition) REFERENCES valve_condition (code), 
    CONSTRAINT fk_condition_profiles_pump FOREIGN KEY(internal_pump_leakage) REFERENCES internal_pump_leakage (code), 
    CONSTRAINT fk_condition_profiles_accumulator FOREIGN KEY(hydraulic_accumulator_bar) REFERENCES hydraulic_accumulator_bar (code), 
    CONSTRAINT fk_condition_profiles_stable FOREIGN KEY(stable_flag) REFERENCES stable_flag (code)
)ENGINE=InnoDB CHARSET=utf8mb4 COLLATE utf8mb4_unicode_ci;

INSERT INTO condition_profiles (profile_id, cooler_condition, valve_condition,
    internal_pump_leakage, hydraulic_accumulator_bar, stable_flag)
SELECT ((((CAST(cc.code AS SIGNED) * 1000 + vc.code) * 10 + pl.code) * 1000 + ha.code) * 10 + sf.code), cc.code, vc.code, pl.code, ha.code, sf.code
FROM cooler_condition cc
CROSS JOIN valve_condition vc
CROSS JOIN internal_pump_leakage pl
CROSS JOIN hydraulic_accumulator_bar ha
CROSS JOIN stable_flag sf
WHERE NOT EXISTS (SELECT 1 FROM condition_profiles p WHERE p.profile_id = ((((CAST(cc.code AS SIGNED) * 1000 + vc.code) * 10 + pl.code) * 1000 + ha.code) * 10 + sf.code));

ALTER TABLE sensor_hourly ADD COLUMN profile_id BIGINT;

UPDATE sensor_hourly SET profile_id=((((CAST(sensor_hourly.cooler_condition AS SIGNED INTEGER) * 1000 + sensor_hourly.valve_condition) * 10 + sensor_hourly.internal_pump_leakage) * 1000 + sensor_hourly.hydraulic_accumulator_bar) * 10 + sensor_hourly.stable_flag) WHERE sensor_hourly.profile_id IS NULL;

CREATE INDEX ix_sensor_hourly_profile ON sensor_hourly (profile_id);

DROP VIEW IF EXISTS oil_well_hourly;

ALTER TABLE sensor_hourly MODIFY profile_id BIGINT NOT NULL;

ALTER TABLE sensor_hourly ADD CONSTRAINT fk_sensor_hourly_profile FOREIGN KEY(profile_id) REFERENCES condition_profiles (profile_id);

ALTER TABLE sensor_hourly DROP FOREIGN KEY fk_sensor_hourly_cooler;

ALTER TABLE sensor_hourly DROP FOREIGN KEY fk_sensor_hourly_valve;

ALTER TABLE sensor_hourly DROP FOREIGN KEY fk_sensor_hourly_pump;

ALTER TABLE sensor_hourly DROP FOREIGN KEY fk_sensor_hourly_accumulator;

ALTER TABLE sensor_hourly DROP FOREIGN KEY fk_sensor_hourly_stable;

DROP INDEX ix_sensor_hourly_conditions ON sensor_hourly;

ALTER TABLE sensor_hourly DROP COLUMN cooler_condition;

ALTER TABLE sensor_hourly DROP COLUMN valve_condition;

ALTER TABLE sensor_hourly DROP COLUMN internal_pump_leakage;

ALTER TABLE sensor_hourly DROP COLUMN hydraulic_accumulator_bar;

ALTER TABLE sensor_hourly DROP COLUMN stable_flag;

ALTER TABLE sensor_hourly FORCE;

CREATE VIEW oil_well_hourly AS
SELECT
    h.cohort, h.cycle, h.date_time, h.cumulative_minutes,
    h.ps1, h.ps2, h.ps3, h.ps4, h.ps5, h.ps6, h.eps1, h.fs1, h.fs2,
    h.ts1, h.ts2, h.ts3, h.ts4, h.vs1, h.ce, h.cp, h.se,
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

UPDATE alembic_version SET version_num='004' WHERE alembic_version.version_num = '003';

