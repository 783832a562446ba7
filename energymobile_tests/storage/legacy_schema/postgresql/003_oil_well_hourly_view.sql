-- What energymobile before Alembic executed on postgresql (test data, not applied by the
-- product): sql/ as it was, adapted statement by statement by the old runner.

CREATE OR REPLACE VIEW oil_well_hourly AS
SELECT
    h.cohort, h.cycle, h.date_time, h.cumulative_minutes,
    h.ps1, h.ps2, h.ps3, h.ps4, h.ps5, h.ps6, h.eps1, h.fs1, h.fs2,
    h.ts1, h.ts2, h.ts3, h.ts4, h.vs1, h.ce, h.cp, h.se,
    h.cooler_condition, h.valve_condition, h.internal_pump_leakage,
    h.hydraulic_accumulator_bar, h.stable_flag,
    cc.description AS cooler_condition_description,
    vc.description AS valve_condition_description,
    pl.description AS internal_pump_leakage_description,
    ha.description AS hydraulic_accumulator_bar_description,
    sf.description AS stable_flag_description
FROM sensor_hourly h
JOIN cooler_condition cc ON cc.code = h.cooler_condition
JOIN valve_condition vc ON vc.code = h.valve_condition
JOIN internal_pump_leakage pl ON pl.code = h.internal_pump_leakage
JOIN hydraulic_accumulator_bar ha ON ha.code = h.hydraulic_accumulator_bar
JOIN stable_flag sf ON sf.code = h.stable_flag;

