-- energymobile warehouse schema, revision 002 for mysql:
-- Reference data from the dataset's documentation (description.txt): the 17 channels and the
-- meaning of each condition code in profile.txt ("reduced effifiency" is corrected).
-- Generated from energymobile/storage/migrations/versions/002_reference_data.py by `make sql`
-- (alembic upgrade 001:002 --sql); do not edit. How to apply it: docs/mysql.md.

-- Running upgrade 001 -> 002

INSERT INTO sensors (code, column_name, quantity, unit, sampling_rate_hz, samples_per_cycle) VALUES ('PS1', 'ps1', 'Pressure', 'bar', 100, 6000);

INSERT INTO sensors (code, column_name, quantity, unit, sampling_rate_hz, samples_per_cycle) VALUES ('PS2', 'ps2', 'Pressure', 'bar', 100, 6000);

INSERT INTO sensors (code, column_name, quantity, unit, sampling_rate_hz, samples_per_cycle) VALUES ('PS3', 'ps3', 'Pressure', 'bar', 100, 6000);

INSERT INTO sensors (code, column_name, quantity, unit, sampling_rate_hz, samples_per_cycle) VALUES ('PS4', 'ps4', 'Pressure', 'bar', 100, 6000);

INSERT INTO sensors (code, column_name, quantity, unit, sampling_rate_hz, samples_per_cycle) VALUES ('PS5', 'ps5', 'Pressure', 'bar', 100, 6000);

INSERT INTO sensors (code, column_name, quantity, unit, sampling_rate_hz, samples_per_cycle) VALUES ('PS6', 'ps6', 'Pressure', 'bar', 100, 6000);

INSERT INTO sensors (code, column_name, quantity, unit, sampling_rate_hz, samples_per_cycle) VALUES ('EPS1', 'eps1', 'Motor power', 'W', 100, 6000);

INSERT INTO sensors (code, column_name, quantity, unit, sampling_rate_hz, samples_per_cycle) VALUES ('FS1', 'fs1', 'Volume flow', 'l/min', 10, 600);

INSERT INTO sensors (code, column_name, quantity, unit, sampling_rate_hz, samples_per_cycle) VALUES ('FS2', 'fs2', 'Volume flow', 'l/min', 10, 600);

INSERT INTO sensors (code, column_name, quantity, unit, sampling_rate_hz, samples_per_cycle) VALUES ('TS1', 'ts1', 'Temperature', '°C', 1, 60);

INSERT INTO sensors (code, column_name, quantity, unit, sampling_rate_hz, samples_per_cycle) VALUES ('TS2', 'ts2', 'Temperature', '°C', 1, 60);

INSERT INTO sensors (code, column_name, quantity, unit, sampling_rate_hz, samples_per_cycle) VALUES ('TS3', 'ts3', 'Temperature', '°C', 1, 60);

INSERT INTO sensors (code, column_name, quantity, unit, sampling_rate_hz, samples_per_cycle) VALUES ('TS4', 'ts4', 'Temperature', '°C', 1, 60);

INSERT INTO sensors (code, column_name, quantity, unit, sampling_rate_hz, samples_per_cycle) VALUES ('VS1', 'vs1', 'Vibration', 'mm/s', 1, 60);

INSERT INTO sensors (code, column_name, quantity, unit, sampling_rate_hz, samples_per_cycle) VALUES ('CE', 'ce', 'Cooling efficiency (virtual)', '%%', 1, 60);

INSERT INTO sensors (code, column_name, quantity, unit, sampling_rate_hz, samples_per_cycle) VALUES ('CP', 'cp', 'Cooling power (virtual)', 'kW', 1, 60);

INSERT INTO sensors (code, column_name, quantity, unit, sampling_rate_hz, samples_per_cycle) VALUES ('SE', 'se', 'Efficiency factor', '%%', 1, 60);

INSERT INTO cooler_condition (code, description) VALUES (3, 'close to total failure');

INSERT INTO cooler_condition (code, description) VALUES (20, 'reduced efficiency');

INSERT INTO cooler_condition (code, description) VALUES (100, 'full efficiency');

INSERT INTO valve_condition (code, description) VALUES (100, 'optimal switching behavior');

INSERT INTO valve_condition (code, description) VALUES (90, 'small lag');

INSERT INTO valve_condition (code, description) VALUES (80, 'severe lag');

INSERT INTO valve_condition (code, description) VALUES (73, 'close to total failure');

INSERT INTO internal_pump_leakage (code, description) VALUES (0, 'no leakage');

INSERT INTO internal_pump_leakage (code, description) VALUES (1, 'weak leakage');

INSERT INTO internal_pump_leakage (code, description) VALUES (2, 'severe leakage');

INSERT INTO hydraulic_accumulator_bar (code, description) VALUES (130, 'optimal pressure');

INSERT INTO hydraulic_accumulator_bar (code, description) VALUES (115, 'slightly reduced pressure');

INSERT INTO hydraulic_accumulator_bar (code, description) VALUES (100, 'severely reduced pressure');

INSERT INTO hydraulic_accumulator_bar (code, description) VALUES (90, 'close to total failure');

INSERT INTO stable_flag (code, description) VALUES (0, 'conditions were stable');

INSERT INTO stable_flag (code, description) VALUES (1, 'static conditions might not have been reached yet');

UPDATE alembic_version SET version_num='002' WHERE alembic_version.version_num = '001';

