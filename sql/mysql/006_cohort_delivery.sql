-- energymobile warehouse schema, revision 006 for mysql:
-- Each loaded cohort records the delivery its rows come from: cohorts.delivery, the archive's
-- delivery id (storage/archive.py `delivery_id`: a digest of the delivered files' names, sizes
-- and SHA-256s).
-- Generated from energymobile/storage/migrations/versions/006_cohort_delivery.py by `make sql`
-- (alembic upgrade 005:006 --sql); do not edit. How to apply it: docs/mysql.md.

-- Running upgrade 005 -> 006

ALTER TABLE cohorts ADD COLUMN delivery CHAR(16);

UPDATE alembic_version SET version_num='006' WHERE alembic_version.version_num = '005';

