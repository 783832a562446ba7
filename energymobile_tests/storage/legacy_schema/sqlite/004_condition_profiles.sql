-- What energymobile before Alembic executed on sqlite (test data, not applied by the
-- product): sql/ as it was, adapted statement by statement by the old runner.

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
);

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

DROP VIEW IF EXISTS oil_well_hourly;

CREATE TABLE sensor_hourly_v4 (
    cohort                    VARCHAR(10) NOT NULL,
    cycle                     INT         NOT NULL,
    date_time                 DATETIME    NOT NULL,
    cumulative_minutes        INT         NOT NULL,
    ps1  DOUBLE NOT NULL,
    ps2  DOUBLE NOT NULL,
    ps3  DOUBLE NOT NULL,
    ps4  DOUBLE NOT NULL,
    ps5  DOUBLE NOT NULL,
    ps6  DOUBLE NOT NULL,
    eps1 DOUBLE NOT NULL,
    fs1  DOUBLE NOT NULL,
    fs2  DOUBLE NOT NULL,
    ts1  DOUBLE NOT NULL,
    ts2  DOUBLE NOT NULL,
    ts3  DOUBLE NOT NULL,
    ts4  DOUBLE NOT NULL,
    vs1  DOUBLE NOT NULL,
    ce   DOUBLE NOT NULL,
    cp   DOUBLE NOT NULL,
    se   DOUBLE NOT NULL,
    profile_id                BIGINT      NOT NULL,
    PRIMARY KEY (cohort, cycle),
    CONSTRAINT fk_sensor_hourly_cohort FOREIGN KEY (cohort) REFERENCES cohorts (cohort),
    CONSTRAINT fk_sensor_hourly_profile FOREIGN KEY (profile_id)
        REFERENCES condition_profiles (profile_id)
);

INSERT INTO sensor_hourly_v4 (cohort, cycle, date_time, cumulative_minutes,
    ps1, ps2, ps3, ps4, ps5, ps6, eps1, fs1, fs2, ts1, ts2, ts3, ts4, vs1, ce, cp, se,
    profile_id)
SELECT cohort, cycle, date_time, cumulative_minutes,
    ps1, ps2, ps3, ps4, ps5, ps6, eps1, fs1, fs2, ts1, ts2, ts3, ts4, vs1, ce, cp, se,
    ((((cooler_condition * 1000 + valve_condition) * 10 + internal_pump_leakage) * 1000
        + hydraulic_accumulator_bar) * 10 + stable_flag)
FROM sensor_hourly
ORDER BY cohort, cycle;

DROP TABLE sensor_hourly;

ALTER TABLE sensor_hourly_v4 RENAME TO sensor_hourly;

CREATE INDEX ix_sensor_hourly_date_time ON sensor_hourly (date_time);

CREATE INDEX ix_sensor_hourly_profile ON sensor_hourly (profile_id);

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

