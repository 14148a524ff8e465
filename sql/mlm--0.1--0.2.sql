-- mlm upgrade script 0.1 -> 0.2.
-- Every change that src/sql makes to the objects of 0.1 is repeated here, in
-- the same order, so that ALTER EXTENSION mlm UPDATE reaches exactly the
-- objects of a fresh CREATE EXTENSION mlm (test/shell/upgrade.sh compares
-- the catalogs).  Payout history (runs, lines, adjustments, plan versions)
-- is carried forward untouched.
\echo Use "ALTER EXTENSION mlm UPDATE TO '0.2'" to load this file. \quit
