-- The service's own database, beside the suite's `test` database (POSTGRES_DB).
CREATE DATABASE compliance;
