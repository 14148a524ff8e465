-- mlm extension install script, version 0.2.
-- Assembled from src/sql/*.sql by the Makefile; edit the pieces, not this file.
\echo Use "CREATE EXTENSION mlm" to load this file. \quit
