-- energymobile warehouse schema, version 4: the five condition codes of sensor_hourly become one
-- key of a junk dimension, condition_profiles (one row per documented combination of codes).
-- Why: InnoDB keeps an index for every foreign key, so each fact row updated five condition
-- indexes (plus the composite one) besides its primary key and date_time index. One profile
-- key needs one index; a bulk load then maintains three indexes per row instead of seven.
-- oil_well_hourly keeps exactly its columns and values (it joins through condition_profiles).
--
-- profile_id is computed from the codes (energymobile/storage/warehouse.py uses the same
-- formula, and a CHECK holds every row to it):
--   ((((cooler * 1000 + valve) * 10 + pump) * 1000 + accumulator) * 10 + stable)
-- e.g. 100/100/0/130/0 -> 10010001300. The digit ranges make it one-to-one; an undocumented
-- code has no profile row, so the fact's foreign key refuses it.
--
-- Re-runnable from any point: MySQL commits DDL statement by statement, and has no
-- ALTER TABLE ... IF [NOT] EXISTS (MariaDB has), so each step that changes sensor_hourly runs
-- only while still needed, through PREPARE (MySQL 8 and MariaDB alike, also with the `mysql`
-- client). Existing rows keep their values: profile_id is filled from their codes, and made
-- NOT NULL with its foreign key before the codes are dropped.
-- SQLite cannot drop columns that foreign keys use: sql/sqlite/004_condition_profiles.sql
-- rebuilds the table there instead, in one transaction.

CREATE TABLE IF NOT EXISTS condition_profiles (
    profile_id                BIGINT   NOT NULL,
    cooler_condition          SMALLINT NOT NULL,
    valve_condition           SMALLINT NOT NULL,
    internal_pump_leakage     SMALLINT NOT NULL,
    hydraulic_accumulator_bar SMALLINT NOT NULL,
    stable_flag               SMALLINT NOT NULL,
    PRIMARY KEY (profile_id),
    CONSTRAINT uq_condition_profiles_codes UNIQUE (cooler_condition, valve_condition,
        internal_pump_leakage, hydraulic_accumulator_bar, stable_flag),
    CONSTRAINT ck_condition_profiles_id CHECK (
        valve_condition BETWEEN 0 AND 999
        AND internal_pump_leakage BETWEEN 0 AND 9
        AND hydraulic_accumulator_bar BETWEEN 0 AND 999
        AND stable_flag BETWEEN 0 AND 9
        AND profile_id = ((((cooler_condition * 1000 + valve_condition) * 10
            + internal_pump_leakage) * 1000 + hydraulic_accumulator_bar) * 10 + stable_flag)),
    CONSTRAINT fk_condition_profiles_cooler FOREIGN KEY (cooler_condition)
        REFERENCES cooler_condition (code),
    CONSTRAINT fk_condition_profiles_valve FOREIGN KEY (valve_condition)
        REFERENCES valve_condition (code),
    CONSTRAINT fk_condition_profiles_pump FOREIGN KEY (internal_pump_leakage)
        REFERENCES internal_pump_leakage (code),
    CONSTRAINT fk_condition_profiles_accumulator FOREIGN KEY (hydraulic_accumulator_bar)
        REFERENCES hydraulic_accumulator_bar (code),
    CONSTRAINT fk_condition_profiles_stable FOREIGN KEY (stable_flag)
        REFERENCES stable_flag (code)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Every combination of the documented codes: 3 x 4 x 3 x 4 x 2 = 288 rows. A code documented
-- later goes into its condition table and this statement runs again in that migration.
-- (NOT EXISTS rather than INSERT IGNORE, which would turn a CHECK failure into a warning.)
INSERT INTO condition_profiles (profile_id, cooler_condition, valve_condition,
    internal_pump_leakage, hydraulic_accumulator_bar, stable_flag)
SELECT
    ((((cc.code * 1000 + vc.code) * 10 + pl.code) * 1000 + ha.code) * 10 + sf.code),
    cc.code, vc.code, pl.code, ha.code, sf.code
FROM cooler_condition cc
CROSS JOIN valve_condition vc
CROSS JOIN internal_pump_leakage pl
CROSS JOIN hydraulic_accumulator_bar ha
CROSS JOIN stable_flag sf
WHERE NOT EXISTS (
    SELECT 1 FROM condition_profiles p
    WHERE p.cooler_condition = cc.code AND p.valve_condition = vc.code
      AND p.internal_pump_leakage = pl.code AND p.hydraulic_accumulator_bar = ha.code
      AND p.stable_flag = sf.code);

-- 1. The new column, nullable until every row has its value.
SET @step = IF(
    (SELECT COUNT(*) FROM information_schema.columns
     WHERE table_schema = DATABASE() AND table_name = 'sensor_hourly'
       AND column_name = 'profile_id') = 0,
    'ALTER TABLE sensor_hourly ADD COLUMN profile_id BIGINT NULL AFTER se',
    'DO 0');
PREPARE migrate_step FROM @step;
EXECUTE migrate_step;
DEALLOCATE PREPARE migrate_step;

-- 2. Existing rows: their profile from their codes.
SET @step = IF(
    (SELECT COUNT(*) FROM information_schema.columns
     WHERE table_schema = DATABASE() AND table_name = 'sensor_hourly'
       AND column_name = 'cooler_condition') = 1,
    'UPDATE sensor_hourly SET profile_id = ((((cooler_condition * 1000 + valve_condition) * 10
        + internal_pump_leakage) * 1000 + hydraulic_accumulator_bar) * 10 + stable_flag)
     WHERE profile_id IS NULL',
    'DO 0');
PREPARE migrate_step FROM @step;
EXECUTE migrate_step;
DEALLOCATE PREPARE migrate_step;

-- 3. NOT NULL, its index and its foreign key, in one (atomic) statement that checks every
-- existing row against condition_profiles.
SET @step = IF(
    (SELECT COUNT(*) FROM information_schema.referential_constraints
     WHERE constraint_schema = DATABASE() AND table_name = 'sensor_hourly'
       AND constraint_name = 'fk_sensor_hourly_profile') = 0,
    'ALTER TABLE sensor_hourly
        MODIFY profile_id BIGINT NOT NULL,
        ADD INDEX ix_sensor_hourly_profile (profile_id),
        ADD CONSTRAINT fk_sensor_hourly_profile FOREIGN KEY (profile_id)
            REFERENCES condition_profiles (profile_id)',
    'DO 0');
PREPARE migrate_step FROM @step;
EXECUTE migrate_step;
DEALLOCATE PREPARE migrate_step;

-- 4. The view reads the codes and descriptions through the profile: same columns, same values.
CREATE OR REPLACE VIEW oil_well_hourly AS
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

-- 5. The five codes go, with their foreign keys; InnoDB drops the indexes over them
-- (ix_sensor_hourly_conditions and the four it made for the keys) with the columns. FORCE
-- rebuilds the table: MariaDB would otherwise drop the columns "instantly", leaving them
-- hidden in every row, old and new.
SET @step = IF(
    (SELECT COUNT(*) FROM information_schema.columns
     WHERE table_schema = DATABASE() AND table_name = 'sensor_hourly'
       AND column_name = 'cooler_condition') = 1,
    'ALTER TABLE sensor_hourly
        DROP FOREIGN KEY fk_sensor_hourly_cooler,
        DROP FOREIGN KEY fk_sensor_hourly_valve,
        DROP FOREIGN KEY fk_sensor_hourly_pump,
        DROP FOREIGN KEY fk_sensor_hourly_accumulator,
        DROP FOREIGN KEY fk_sensor_hourly_stable,
        DROP COLUMN cooler_condition,
        DROP COLUMN valve_condition,
        DROP COLUMN internal_pump_leakage,
        DROP COLUMN hydraulic_accumulator_bar,
        DROP COLUMN stable_flag,
        FORCE',
    'DO 0');
PREPARE migrate_step FROM @step;
EXECUTE migrate_step;
DEALLOCATE PREPARE migrate_step;
