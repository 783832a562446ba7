-- energymobile warehouse schema, revision 001 for mysql:
-- The star schema: the channels, the five condition tables, cohorts and their files, and the
-- fact sensor_hourly with one column per channel and the five condition codes.
-- Generated from energymobile/storage/migrations/versions/001_schema.py by `make sql`
-- (alembic upgrade 001 --sql); do not edit. How to apply it: docs/mysql.md.

CREATE TABLE alembic_version (
    version_num VARCHAR(32) NOT NULL, 
    CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num)
);

-- Running upgrade  -> 001

CREATE TABLE IF NOT EXISTS sensors (
    code VARCHAR(8) NOT NULL, 
    column_name VARCHAR(8) NOT NULL, 
    quantity VARCHAR(64) NOT NULL, 
    unit VARCHAR(16) NOT NULL, 
    sampling_rate_hz SMALLINT NOT NULL, 
    samples_per_cycle SMALLINT NOT NULL, 
    PRIMARY KEY (code), 
    CONSTRAINT uq_sensors_column_name UNIQUE (column_name)
)ENGINE=InnoDB CHARSET=utf8mb4 COLLATE utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS cooler_condition (
    code SMALLINT NOT NULL, 
    description VARCHAR(64) NOT NULL, 
    PRIMARY KEY (code)
)ENGINE=InnoDB CHARSET=utf8mb4 COLLATE utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS valve_condition (
    code SMALLINT NOT NULL, 
    description VARCHAR(64) NOT NULL, 
    PRIMARY KEY (code)
)ENGINE=InnoDB CHARSET=utf8mb4 COLLATE utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS internal_pump_leakage (
    code SMALLINT NOT NULL, 
    description VARCHAR(64) NOT NULL, 
    PRIMARY KEY (code)
)ENGINE=InnoDB CHARSET=utf8mb4 COLLATE utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS hydraulic_accumulator_bar (
    code SMALLINT NOT NULL, 
    description VARCHAR(64) NOT NULL, 
    PRIMARY KEY (code)
)ENGINE=InnoDB CHARSET=utf8mb4 COLLATE utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS stable_flag (
    code SMALLINT NOT NULL, 
    description VARCHAR(64) NOT NULL, 
    PRIMARY KEY (code)
)ENGINE=InnoDB CHARSET=utf8mb4 COLLATE utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS cohorts (
    cohort VARCHAR(10) NOT NULL, 
    window_start DATETIME NOT NULL, 
    window_end DATETIME NOT NULL, 
    row_count INTEGER NOT NULL, 
    statistic VARCHAR(8) NOT NULL, 
    source_sha256 CHAR(64) NOT NULL, 
    loaded_at DATETIME NOT NULL, 
    PRIMARY KEY (cohort)
)ENGINE=InnoDB CHARSET=utf8mb4 COLLATE utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS cohort_files (
    cohort VARCHAR(10) NOT NULL, 
    file_name VARCHAR(32) NOT NULL, 
    byte_count BIGINT NOT NULL, 
    row_count INTEGER NOT NULL, 
    sha256 CHAR(64) NOT NULL, 
    PRIMARY KEY (cohort, file_name), 
    CONSTRAINT fk_cohort_files_cohort FOREIGN KEY(cohort) REFERENCES cohorts (cohort)
)ENGINE=InnoDB CHARSET=utf8mb4 COLLATE utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS sensor_hourly (
    cohort VARCHAR(10) NOT NULL, 
    cycle INTEGER NOT NULL, 
    date_time DATETIME NOT NULL, 
    cumulative_minutes INTEGER NOT NULL, 
    ps1 DOUBLE NOT NULL, 
    ps2 DOUBLE NOT NULL, 
    ps3 DOUBLE NOT NULL, 
    ps4 DOUBLE NOT NULL, 
    ps5 DOUBLE NOT NULL, 
    ps6 DOUBLE NOT NULL, 
    eps1 DOUBLE NOT NULL, 
    fs1 DOUBLE NOT NULL, 
    fs2 DOUBLE NOT NULL, 
    ts1 DOUBLE NOT NULL, 
    ts2 DOUBLE NOT NULL, 
    ts3 DOUBLE NOT NULL, 
    ts4 DOUBLE NOT NULL, 
    vs1 DOUBLE NOT NULL, 
    ce DOUBLE NOT NULL, 
    cp DOUBLE NOT NULL, 
    se DOUBLE NOT NULL, 
    cooler_condition SMALLINT NOT NULL, 
    valve_condition SMALLINT NOT NULL, 
    internal_pump_leakage SMALLINT NOT NULL, 
    hydraulic_accumulator_bar SMALLINT NOT NULL, 
    stable_flag SMALLINT NOT NULL, 
    PRIMARY KEY (cohort, cycle), 
    CONSTRAINT fk_sensor_hourly_cohort FOREIGN KEY(cohort) REFERENCES cohorts (cohort), 
    CONSTRAINT fk_sensor_hourly_cooler FOREIGN KEY(cooler_condition) REFERENCES cooler_condition (code), 
    CONSTRAINT fk_sensor_hourly_valve FOREIGN KEY(valve_condition) REFERENCES valve_condition (code), 
    CONSTRAINT fk_sensor_hourly_pump FOREIGN KEY(internal_pump_leakage) REFERENCES internal_pump_leakage (code), 
    CONSTRAINT fk_sensor_hourly_accumulator FOREIGN KEY(hydraulic_accumulator_bar) REFERENCES hydraulic_accumulator_bar (code), 
    CONSTRAINT fk_sensor_hourly_stable FOREIGN KEY(stable_flag) REFERENCES stable_flag (code)
)ENGINE=InnoDB CHARSET=utf8mb4 COLLATE utf8mb4_unicode_ci;

CREATE INDEX ix_sensor_hourly_date_time ON sensor_hourly (date_time);

CREATE INDEX ix_sensor_hourly_conditions ON sensor_hourly (cooler_condition, valve_condition, internal_pump_leakage, hydraulic_accumulator_bar);

INSERT INTO alembic_version (version_num) VALUES ('001');

