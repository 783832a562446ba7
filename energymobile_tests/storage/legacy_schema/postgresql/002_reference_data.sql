-- What energymobile before Alembic executed on postgresql (test data, not applied by the
-- product): sql/ as it was, adapted statement by statement by the old runner.

INSERT INTO sensors (code, column_name, quantity, unit, sampling_rate_hz, samples_per_cycle) VALUES
    ('PS1', 'ps1', 'Pressure', 'bar', 100, 6000),
    ('PS2', 'ps2', 'Pressure', 'bar', 100, 6000),
    ('PS3', 'ps3', 'Pressure', 'bar', 100, 6000),
    ('PS4', 'ps4', 'Pressure', 'bar', 100, 6000),
    ('PS5', 'ps5', 'Pressure', 'bar', 100, 6000),
    ('PS6', 'ps6', 'Pressure', 'bar', 100, 6000),
    ('EPS1', 'eps1', 'Motor power', 'W', 100, 6000),
    ('FS1', 'fs1', 'Volume flow', 'l/min', 10, 600),
    ('FS2', 'fs2', 'Volume flow', 'l/min', 10, 600),
    ('TS1', 'ts1', 'Temperature', '°C', 1, 60),
    ('TS2', 'ts2', 'Temperature', '°C', 1, 60),
    ('TS3', 'ts3', 'Temperature', '°C', 1, 60),
    ('TS4', 'ts4', 'Temperature', '°C', 1, 60),
    ('VS1', 'vs1', 'Vibration', 'mm/s', 1, 60),
    ('CE', 'ce', 'Cooling efficiency (virtual)', '%', 1, 60),
    ('CP', 'cp', 'Cooling power (virtual)', 'kW', 1, 60),
    ('SE', 'se', 'Efficiency factor', '%', 1, 60)
ON CONFLICT DO NOTHING;

INSERT INTO cooler_condition (code, description) VALUES
    (3, 'close to total failure'),
    (20, 'reduced efficiency'),
    (100, 'full efficiency')
ON CONFLICT DO NOTHING;

INSERT INTO valve_condition (code, description) VALUES
    (100, 'optimal switching behavior'),
    (90, 'small lag'),
    (80, 'severe lag'),
    (73, 'close to total failure')
ON CONFLICT DO NOTHING;

INSERT INTO internal_pump_leakage (code, description) VALUES
    (0, 'no leakage'),
    (1, 'weak leakage'),
    (2, 'severe leakage')
ON CONFLICT DO NOTHING;

INSERT INTO hydraulic_accumulator_bar (code, description) VALUES
    (130, 'optimal pressure'),
    (115, 'slightly reduced pressure'),
    (100, 'severely reduced pressure'),
    (90, 'close to total failure')
ON CONFLICT DO NOTHING;

INSERT INTO stable_flag (code, description) VALUES
    (0, 'conditions were stable'),
    (1, 'static conditions might not have been reached yet')
ON CONFLICT DO NOTHING;

