-- test/pgtap/line_pack.sql: the packed form of audit lines (src/line_pack.c)
-- read back exactly, and refused when it is not what the writer builds.
--
-- Round trips go through mlm._pack_lines (the upgrade's encoder, numerics
-- in, numerics out) and are compared as text, so a lost trailing zero or
-- sign is a failure; the close's own encoder (fixed-point figures) is
-- compared with mlm.compute in close_write.sql.  Hostile data: every
-- malformed form the reader knows, then random bytes, where the check
-- (mlm._lines_valid) and the reader (mlm._unpack_lines) must agree and
-- neither may crash.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
BEGIN;
SELECT plan(26);

-- a round trip: NULL source and level, NULL base and rate (only 0.1's rows
-- have them), scales kept, negative and large values, a figure too precise
-- for the fixed-point form (kept as text), NaN
CREATE TEMP TABLE l (line_no bigint, source_id bigint, level int, base numeric, rate numeric, amount numeric);
INSERT INTO l VALUES
  (7, 3, 1, 100.50, 0.1, 10.050),
  (8, NULL, NULL, NULL, NULL, -0.50),
  (1000000000000, -9223372036854775808, 2147483647, 123456789012345678901234567890.5, 0.05, 0),
  (1000000000001, 9223372036854775807, 0, 0.333333333333333333333333, 1, 12345.000000000000000001),
  (1000000000005, 42, 3, 'NaN', 2.50, 99999999999999999999.99);
CREATE TEMP TABLE packed AS
SELECT mlm._pack_lines(42, array_agg(line_no ORDER BY line_no), array_agg(source_id ORDER BY line_no),
                       array_agg(level ORDER BY line_no), array_agg(base ORDER BY line_no),
                       array_agg(rate ORDER BY line_no), array_agg(amount ORDER BY line_no)) AS data
  FROM l;
SELECT is((SELECT string_agg(x::text, ';' ORDER BY x.line_no) FROM mlm._unpack_lines(42, 7, 5, (SELECT data FROM packed)) x),
          (SELECT string_agg(l::text, ';' ORDER BY l.line_no) FROM l),
          'lines read back exactly: ids, NULLs, scales, signs, large and long figures');
SELECT ok(mlm._lines_valid(42, 7, 5, (SELECT data FROM packed)), 'the packed lines are valid');
SELECT is((SELECT count(*) FROM mlm._unpack_lines(-1, 7, 5, (SELECT data FROM packed)) x
            WHERE x.source_id IN (3, 42)), 0::bigint,
          'sources are stored relative to the recipient, whatever it is');
SELECT ok(octet_length((SELECT data FROM packed)) < 5 * 40, 'a few bytes a line');

-- refused and corrupt forms
SELECT ok(NOT mlm._lines_valid(42, 7, 4, (SELECT data FROM packed)), 'more data than lines: invalid');
SELECT ok(NOT mlm._lines_valid(42, 7, 6, (SELECT data FROM packed)), 'fewer data than lines: invalid');
SELECT ok(NOT mlm._lines_valid(1, 1, 1, '\x0100000000000202'::bytea), 'a first line numbered other than first_line: invalid');
SELECT ok(NOT mlm._lines_valid(42, 7, 0, (SELECT data FROM packed)), 'no lines: invalid');
SELECT ok(NOT mlm._lines_valid(42, 7, 5, substring((SELECT data FROM packed) FROM 1 FOR 30)), 'truncated data: invalid');
SELECT ok(NOT mlm._lines_valid(1, 1, 1, '\x00ff'::bytea), 'unknown flags: invalid');
SELECT ok(NOT mlm._lines_valid(1, 1, 1, '\x0000130000000000'::bytea), 'unknown figure form: invalid');
SELECT ok(mlm._lines_valid(1, 1, 1, '\x0001ffffffffffffffffff01000000000202'::bytea)
          AND NOT mlm._lines_valid(1, 1, 1, '\x0001ffffffffffffffffff7f000000000202'::bytea),
          'a varint of 64 bits is valid, one beyond 64 bits is not');
SELECT ok(NOT mlm._lines_valid(1, 1, 1, ('\x00000012' || repeat('ff', 18) || '7f00000202')::bytea),
          'a figure beyond 128 bits: invalid');
SELECT ok(NOT mlm._lines_valid(9223372036854775806, 9223372036854775806, 2, '\x000000020000020002000500000002'::bytea),
          'line numbers beyond bigint: invalid');
SELECT ok(NOT mlm._lines_valid(1, 1, 1, '\x0000ff03312e2e0000'::bytea), 'a figure text that is no number: invalid');
SELECT ok(NOT mlm._lines_valid(1, 1, 1, '\x000000000000fe'::bytea), 'a NULL amount: invalid');
SELECT ok(mlm._lines_valid(1, 1, 1, '\x0000000000000202'::bytea), 'the smallest valid line is valid');
SELECT is((SELECT x::text FROM mlm._unpack_lines(1, 1, 1, '\x0000000000000202'::bytea) x), '(1,,,0,0,0.01)',
          'and reads as it should');
SELECT throws_ok($$SELECT * FROM mlm._unpack_lines(42, 7, 4, (SELECT data FROM packed))$$, 'XX001',
                 'packed audit lines of member 42 are corrupt', 'the reader refuses what the check refuses');
SELECT throws_ok($$SELECT * FROM mlm._unpack_lines(1, 1, 1, '\x0001ffffffffffffffffff7f000000000202'::bytea)$$, 'XX001', NULL,
                 'an overlong number is an error, not a wrong id');
SELECT throws_ok($$SELECT mlm._pack_lines(1, '{2,1}', '{NULL,NULL}', '{NULL,NULL}', '{1,1}', '{1,1}', '{1,1}')$$, '22023',
                 'the line numbers of a packed row must increase', 'the encoder refuses decreasing line numbers');
SELECT throws_ok($$SELECT mlm._pack_lines(1, '{1,2}', '{NULL}', '{NULL,NULL}', '{1,1}', '{1,1}', '{1,1}')$$, '2202E', NULL,
                 'the encoder refuses arrays of different lengths');

-- the table's CHECK refuses a row the writer would not build
SELECT throws_ok($$INSERT INTO mlm.run_line_pack VALUES (-1, 1, 1, 'x', 2, '\x0000000000000202')$$, '23514', NULL,
                 'a row whose data holds fewer lines than it says is refused');

-- random bytes: the check and the reader agree, and nothing crashes
SELECT setseed(0.7);
-- half of them the packed row above with one or two bytes changed, half
-- random bytes (mostly small ones, the values of flags and figure forms)
CREATE TEMP TABLE fuzz AS
SELECT g, 4 + (random() * 2)::int AS lines,
       set_byte(set_byte(p.data, (random() * (octet_length(p.data) - 1))::int, (random() * 255)::int),
                (random() * (octet_length(p.data) - 1))::int,
                CASE WHEN random() < 0.5 THEN get_byte(p.data, 0) ELSE (random() * 255)::int END) AS data
  FROM generate_series(1, 1500) g, packed p
UNION ALL
SELECT g, 1 + (random() * 3)::int,
       decode(string_agg(lpad(to_hex(CASE WHEN random() < 0.5 THEN (random() * 3)::int ELSE (random() * 255)::int END), 2, '0'), ''), 'hex')
  FROM generate_series(1501, 3000) g, generate_series(1, 1 + (g % 24)) k
 GROUP BY g;
CREATE FUNCTION pg_temp.reads(m bigint, f bigint, n int, d bytea) RETURNS int LANGUAGE plpgsql AS $$
DECLARE c int;
BEGIN
    SELECT count(*) INTO c FROM mlm._unpack_lines(m, f, n, d);
    RETURN c;
EXCEPTION WHEN data_corrupted THEN
    RETURN -1;
END $$;
CREATE TEMP TABLE fuzz_out AS
SELECT g, lines, mlm._lines_valid(42, 7, lines, data) AS valid, pg_temp.reads(42, 7, lines, data) AS got FROM fuzz;
SELECT is((SELECT count(*) FROM fuzz_out WHERE valid <> (got = lines) OR (NOT valid AND got <> -1)), 0::bigint,
          'random data: valid exactly when the reader returns every line, else the reader says it is corrupt');
SELECT ok((SELECT count(*) FROM fuzz_out WHERE valid) > 10, 'some random rows are valid (the fuzz reaches the figures)');
SELECT ok((SELECT count(*) FROM fuzz_out WHERE NOT valid) > 1000, 'many are not');

SELECT * FROM finish();
ROLLBACK;
