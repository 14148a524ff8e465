-- mlm.tree binary I/O: the send format, binary COPY round trips through a
-- file, and recv rejecting malformed payloads fed in by COPY FROM a binary
-- file that is written byte by byte (lo_export of a crafted bytea).
\pset format unaligned
\pset null '<null>'
-- the scratch file lives in the data directory (the server writes it)
SELECT current_setting('data_directory') || '/mlm_tree_binary_test.copy' AS binfile \gset
-- i4/i8: network-order int4/int8 arrays
CREATE FUNCTION pg_temp.i4(a int[]) RETURNS bytea LANGUAGE sql AS $$
    SELECT coalesce(string_agg(int4send(x), ''::bytea ORDER BY o), ''::bytea)
    FROM unnest(a) WITH ORDINALITY u(x, o)
$$;
CREATE FUNCTION pg_temp.i8(a bigint[]) RETURNS bytea LANGUAGE sql AS $$
    SELECT coalesce(string_agg(int8send(x), ''::bytea ORDER BY o), ''::bytea)
    FROM unnest(a) WITH ORDINALITY u(x, o)
$$;
-- pay(): a binary mlm.tree value: version byte, flags byte, int32 n,
-- int32 nroots, int64 ids[], int32 parent[], size[], byid[] [, pparent[], ppos[]]
CREATE FUNCTION pg_temp.pay(ver int, flags int, n int, nroots int, ids bigint[],
                            par int[], sz int[], byid int[],
                            pp int[] DEFAULT NULL, pos int[] DEFAULT NULL)
RETURNS bytea LANGUAGE sql AS $$
    SELECT set_byte('\x00'::bytea, 0, ver) || set_byte('\x00'::bytea, 0, flags)
           || int4send(n) || int4send(nroots) || pg_temp.i8(ids) || pg_temp.i4(par)
           || pg_temp.i4(sz) || pg_temp.i4(byid)
           || coalesce(pg_temp.i4(pp), ''::bytea) || coalesce(pg_temp.i4(pos), ''::bytea)
$$;
-- pgcopy(): a binary COPY file of one row with one field holding the payload
-- (NULL payload = a NULL field)
CREATE FUNCTION pg_temp.pgcopy(payload bytea) RETURNS bytea LANGUAGE sql AS $$
    SELECT '\x5047434f50590aff0d0a00'::bytea || int4send(0) || int4send(0)
           || int2send(1::int2)
           || CASE WHEN payload IS NULL THEN int4send(-1)
                   ELSE int4send(length(payload)) || payload END
           || int2send(-1::int2)
$$;
CREATE TEMP TABLE bin_in (t mlm.tree);
-- load(): write the file, COPY it in, report the value or the error
CREATE FUNCTION pg_temp.load(payload bytea, path text, with_detail bool DEFAULT true)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    lo oid;
    st text;
    msg text;
    det text;
    r text;
BEGIN
    lo := lo_from_bytea(0, pg_temp.pgcopy(payload));
    PERFORM lo_export(lo, path);
    PERFORM lo_unlink(lo);
    TRUNCATE bin_in;
    BEGIN
        EXECUTE format('COPY bin_in FROM %L (FORMAT binary)', path);
    EXCEPTION WHEN OTHERS THEN
        GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT,
                                det = PG_EXCEPTION_DETAIL;
        RETURN st || ' ' || msg
               || CASE WHEN with_detail THEN coalesce(E'\n    ' || nullif(det, ''), '') ELSE '' END;
    END;
    SELECT 'ok ' || coalesce(t::text, '<null>') INTO r FROM bin_in;
    RETURN r;
END
$$;

--
-- The send format of {1,2:1,3:1}: version 1, flags 0, n 3, nroots 1,
-- ids 1 2 3, parent -1 0 0, size 3 1 1, byid 0 1 2 (all network order)
--
SELECT mlm.tree_send('{1,2:1,3:1}');
SELECT mlm.tree_send('{1,2:1,3:1}')
       = pg_temp.pay(1, 0, 3, 1, '{1,2,3}', '{-1,0,0}', '{3,1,1}', '{0,1,2}') AS same;
-- with placement: flags 1, then pparent and ppos
SELECT mlm.tree_send('{1:::,2:1:1:0,3:1:1:1}')
       = pg_temp.pay(1, 1, 3, 1, '{1,2,3}', '{-1,0,0}', '{3,1,1}', '{0,1,2}',
                     '{-1,0,0}', '{-1,0,1}') AS same;
-- byid maps id order to preorder: {5,1:5,3:5} is stored as 5, 1, 3
SELECT mlm.tree_send('{5,1:5,3:5}')
       = pg_temp.pay(1, 0, 3, 1, '{5,1,3}', '{-1,0,0}', '{3,1,1}', '{1,2,0}') AS same;

\pset tuples_only on
--
-- Well-formed payloads load
--
SELECT pg_temp.load(pg_temp.pay(1, 0, 3, 1, '{1,2,3}', '{-1,0,0}', '{3,1,1}', '{0,1,2}'), :'binfile');
SELECT pg_temp.load(pg_temp.pay(1, 1, 3, 1, '{1,2,3}', '{-1,0,0}', '{3,1,1}', '{0,1,2}', '{-1,0,0}', '{-1,0,1}'), :'binfile');
SELECT pg_temp.load(pg_temp.pay(1, 0, 0, 0, '{}', '{}', '{}', '{}'), :'binfile');
SELECT pg_temp.load(NULL, :'binfile');
SELECT pg_temp.load(mlm.tree_send('{-9223372036854775808,7:-9223372036854775808,-1:7,9223372036854775807}'), :'binfile');

--
-- Header: version, flags, member count
--
SELECT pg_temp.load(pg_temp.pay(2, 0, 3, 1, '{1,2,3}', '{-1,0,0}', '{3,1,1}', '{0,1,2}'), :'binfile');
SELECT pg_temp.load(pg_temp.pay(0, 0, 3, 1, '{1,2,3}', '{-1,0,0}', '{3,1,1}', '{0,1,2}'), :'binfile');
SELECT pg_temp.load(pg_temp.pay(255, 0, 3, 1, '{1,2,3}', '{-1,0,0}', '{3,1,1}', '{0,1,2}'), :'binfile');
SELECT pg_temp.load(pg_temp.pay(1, 2, 3, 1, '{1,2,3}', '{-1,0,0}', '{3,1,1}', '{0,1,2}'), :'binfile');
SELECT pg_temp.load(pg_temp.pay(1, 129, 3, 1, '{1,2,3}', '{-1,0,0}', '{3,1,1}', '{0,1,2}'), :'binfile');
SELECT pg_temp.load(pg_temp.pay(1, 0, -1, 1, '{1,2,3}', '{-1,0,0}', '{3,1,1}', '{0,1,2}'), :'binfile');
SELECT pg_temp.load(pg_temp.pay(1, 0, 30000001, 1, '{1,2,3}', '{-1,0,0}', '{3,1,1}', '{0,1,2}'), :'binfile');
-- nroots must match the parents
SELECT pg_temp.load(pg_temp.pay(1, 0, 3, 2, '{1,2,3}', '{-1,0,0}', '{3,1,1}', '{0,1,2}'), :'binfile');
SELECT pg_temp.load(pg_temp.pay(1, 0, 3, 0, '{1,2,3}', '{-1,0,0}', '{3,1,1}', '{0,1,2}'), :'binfile');
SELECT pg_temp.load(pg_temp.pay(1, 0, 3, 4, '{1,2,3}', '{-1,0,0}', '{3,1,1}', '{0,1,2}'), :'binfile');
SELECT pg_temp.load(pg_temp.pay(1, 0, 3, -1, '{1,2,3}', '{-1,0,0}', '{3,1,1}', '{0,1,2}'), :'binfile');
SELECT pg_temp.load(pg_temp.pay(1, 0, 0, 1, '{}', '{}', '{}', '{}'), :'binfile');

--
-- Member count against the bytes present (checked before allocating)
--
SELECT pg_temp.load(pg_temp.pay(1, 0, 4, 1, '{1,2,3}', '{-1,0,0}', '{3,1,1}', '{0,1,2}'), :'binfile');
SELECT pg_temp.load(pg_temp.pay(1, 0, 2, 1, '{1,2,3}', '{-1,0,0}', '{3,1,1}', '{0,1,2}'), :'binfile');
SELECT pg_temp.load(pg_temp.pay(1, 0, 1000000, 1, '{1,2,3}', '{-1,0,0}', '{3,1,1}', '{0,1,2}'), :'binfile');
SELECT pg_temp.load(pg_temp.pay(1, 0, 30000000, 1, '{1,2,3}', '{-1,0,0}', '{3,1,1}', '{0,1,2}'), :'binfile');
SELECT pg_temp.load(pg_temp.pay(1, 0, 3, 1, '{1,2,3}', '{-1,0,0}', '{3,1,1}', '{0,1,2}') || '\x00'::bytea, :'binfile');
-- the placement flag without the placement arrays
SELECT pg_temp.load(pg_temp.pay(1, 1, 3, 1, '{1,2,3}', '{-1,0,0}', '{3,1,1}', '{0,1,2}'), :'binfile');
-- cut short inside the header
SELECT pg_temp.load('\x'::bytea, :'binfile');
SELECT pg_temp.load('\x01'::bytea, :'binfile');
SELECT pg_temp.load('\x0100000000'::bytea, :'binfile');

--
-- Sponsor indexes: in range and before the member
--
SELECT pg_temp.load(pg_temp.pay(1, 0, 3, 1, '{1,2,3}', '{-1,5,0}', '{3,1,1}', '{0,1,2}'), :'binfile');
SELECT pg_temp.load(pg_temp.pay(1, 0, 3, 1, '{1,2,3}', '{-1,0,-2}', '{3,1,1}', '{0,1,2}'), :'binfile');
SELECT pg_temp.load(pg_temp.pay(1, 0, 3, 1, '{1,2,3}', '{-1,1,0}', '{3,1,1}', '{0,1,2}'), :'binfile');
SELECT pg_temp.load(pg_temp.pay(1, 0, 3, 1, '{1,2,3}', '{-1,2,0}', '{3,1,1}', '{0,1,2}'), :'binfile');
SELECT pg_temp.load(pg_temp.pay(1, 0, 3, 0, '{1,2,3}', '{0,0,0}', '{3,1,1}', '{0,1,2}'), :'binfile');
SELECT pg_temp.load(pg_temp.pay(1, 0, 3, 1, '{1,2,3}', '{-1,0,2147483647}', '{3,1,1}', '{0,1,2}'), :'binfile');

--
-- Preorder and subtree sizes
--
-- size of the root too small
SELECT pg_temp.load(pg_temp.pay(1, 0, 3, 1, '{1,2,3}', '{-1,0,0}', '{2,1,1}', '{0,1,2}'), :'binfile');
-- size of a leaf too large
SELECT pg_temp.load(pg_temp.pay(1, 0, 3, 1, '{1,2,3}', '{-1,0,0}', '{3,2,1}', '{0,1,2}'), :'binfile');
SELECT pg_temp.load(pg_temp.pay(1, 0, 3, 1, '{1,2,3}', '{-1,0,0}', '{3,1,0}', '{0,1,2}'), :'binfile');
SELECT pg_temp.load(pg_temp.pay(1, 0, 3, 1, '{1,2,3}', '{-1,0,0}', '{3,1,-7}', '{0,1,2}'), :'binfile');
-- member 4 (index 3) hangs below member 2 (index 1) but follows member 3:
-- not a preorder whatever the sizes say
SELECT pg_temp.load(pg_temp.pay(1, 0, 4, 1, '{1,2,3,4}', '{-1,0,0,1}', '{3,1,1,1}', '{0,1,2,3}'), :'binfile');
SELECT pg_temp.load(pg_temp.pay(1, 0, 4, 1, '{1,2,3,4}', '{-1,0,0,1}', '{4,2,1,1}', '{0,1,2,3}'), :'binfile');

--
-- The id index: a sorted permutation of the members
--
SELECT pg_temp.load(pg_temp.pay(1, 0, 3, 1, '{1,2,3}', '{-1,0,0}', '{3,1,1}', '{0,1,3}'), :'binfile');
SELECT pg_temp.load(pg_temp.pay(1, 0, 3, 1, '{1,2,3}', '{-1,0,0}', '{3,1,1}', '{-1,1,2}'), :'binfile');
SELECT pg_temp.load(pg_temp.pay(1, 0, 3, 1, '{1,2,3}', '{-1,0,0}', '{3,1,1}', '{0,2,1}'), :'binfile');
-- an index repeated: not a permutation (the ids themselves are distinct)
SELECT pg_temp.load(pg_temp.pay(1, 0, 3, 1, '{1,2,3}', '{-1,0,0}', '{3,1,1}', '{0,1,1}'), :'binfile', false);
SELECT pg_temp.load(pg_temp.pay(1, 0, 3, 1, '{1,2,3}', '{-1,0,0}', '{3,1,1}', '{2,2,2}'), :'binfile', false);
-- duplicate ids: siblings (or roots) with equal ids are out of order ...
SELECT pg_temp.load(pg_temp.pay(1, 0, 3, 1, '{1,2,2}', '{-1,0,0}', '{3,1,1}', '{0,1,2}'), :'binfile');
SELECT pg_temp.load(pg_temp.pay(1, 0, 3, 3, '{7,7,7}', '{-1,-1,-1}', '{1,1,1}', '{0,1,2}'), :'binfile');
-- ... elsewhere in the tree the id index finds them
SELECT pg_temp.load(pg_temp.pay(1, 0, 3, 1, '{1,2,2}', '{-1,0,1}', '{3,2,1}', '{0,1,2}'), :'binfile');
SELECT pg_temp.load(pg_temp.pay(1, 0, 3, 1, '{7,1,7}', '{-1,0,1}', '{3,2,1}', '{1,0,2}'), :'binfile');

--
-- Placement arrays
--
-- a placement cycle through the root, and one below it
SELECT pg_temp.load(pg_temp.pay(1, 1, 3, 1, '{1,2,3}', '{-1,0,0}', '{3,1,1}', '{0,1,2}', '{1,2,0}', '{0,0,0}'), :'binfile');
SELECT pg_temp.load(pg_temp.pay(1, 1, 3, 1, '{1,2,3}', '{-1,0,0}', '{3,1,1}', '{0,1,2}', '{-1,2,1}', '{-1,0,0}'), :'binfile');
-- placed below itself
SELECT pg_temp.load(pg_temp.pay(1, 1, 3, 1, '{1,2,3}', '{-1,0,0}', '{3,1,1}', '{0,1,2}', '{-1,1,0}', '{-1,0,0}'), :'binfile');
-- placement parent out of range
SELECT pg_temp.load(pg_temp.pay(1, 1, 3, 1, '{1,2,3}', '{-1,0,0}', '{3,1,1}', '{0,1,2}', '{-1,0,3}', '{-1,0,1}'), :'binfile');
SELECT pg_temp.load(pg_temp.pay(1, 1, 3, 1, '{1,2,3}', '{-1,0,0}', '{3,1,1}', '{0,1,2}', '{-1,0,-2}', '{-1,0,1}'), :'binfile');
-- a position without a placement parent, and a negative position
SELECT pg_temp.load(pg_temp.pay(1, 1, 3, 1, '{1,2,3}', '{-1,0,0}', '{3,1,1}', '{0,1,2}', '{-1,0,0}', '{0,0,1}'), :'binfile');
SELECT pg_temp.load(pg_temp.pay(1, 1, 3, 1, '{1,2,3}', '{-1,0,0}', '{3,1,1}', '{0,1,2}', '{-1,0,0}', '{-1,0,-2}'), :'binfile');
-- two members in one slot
SELECT pg_temp.load(pg_temp.pay(1, 1, 3, 1, '{1,2,3}', '{-1,0,0}', '{3,1,1}', '{0,1,2}', '{-1,0,0}', '{-1,1,1}'), :'binfile');

--
-- Canonical order: roots and children come by id.  A payload that lists
-- them otherwise must either be rejected or be read as the canonical tree;
-- it must never give a value whose text differs from the same tree's.
--
\pset tuples_only off
SELECT pg_temp.load(pg_temp.pay(1, 0, 2, 2, '{2,1}', '{-1,-1}', '{1,1}', '{1,0}'), :'binfile') AS l \gset
SELECT :'l' NOT LIKE 'ok %' OR (SELECT t::text = '{1,2}' FROM bin_in) AS rejected_or_canonical;
SELECT pg_temp.load(pg_temp.pay(1, 0, 3, 1, '{1,3,2}', '{-1,0,0}', '{3,1,1}', '{0,2,1}'), :'binfile') AS l \gset
SELECT :'l' NOT LIKE 'ok %' OR (SELECT t::text = '{1,2:1,3:1}' FROM bin_in) AS rejected_or_canonical;

--
-- Round trips of a table of trees: binary COPY to a file and back, text
-- COPY to a file and back, text out and in.
--
CREATE TEMP TABLE trees (k int PRIMARY KEY, t mlm.tree);
INSERT INTO trees VALUES
    (1, '{1,2:1,3:1}'),
    (2, '{1:::,2:1:1:0,4:2:2:0,3:1:1:1,5:1:2:1}'),
    (3, '{}'),
    (4, NULL),
    (5, '{-9223372036854775808,7:-9223372036854775808,-1:7,9223372036854775807}'),
    (6, '{1:::,2:1::,3::1:0,4:3:3:7}');
-- 50,000 members, a random-looking recursive tree (out-of-line storage)
INSERT INTO trees
SELECT 7, mlm.tree_agg(g, CASE WHEN g > 1 THEN 1 + (g * 7919) % (g - 1) END)
FROM generate_series(1, 50000) g;
-- a 20,000 deep chain with sparse ids and a ternary placement tree
INSERT INTO trees
SELECT 8, mlm.tree_agg(g::bigint * 1000003, NULLIF(g - 1, 0)::bigint * 1000003,
                       CASE WHEN g > 1 THEN (g + 1) / 3 * 1000003::bigint END,
                       CASE WHEN g > 1 THEN (g + 1) % 3 END)
FROM generate_series(1, 20000) g;
SELECT k, mlm.size(t), pg_column_size(t) FROM trees ORDER BY k;
COPY trees TO :'binfile' (FORMAT binary);
CREATE TEMP TABLE trees_bin (LIKE trees);
COPY trees_bin FROM :'binfile' (FORMAT binary);
COPY trees TO :'binfile';
CREATE TEMP TABLE trees_txt (LIKE trees);
COPY trees_txt FROM :'binfile';
-- every value is the same, by text, by send bytes and by traversal
SELECT a.k,
       a.t::text IS NOT DISTINCT FROM b.t::text AS bin_text,
       mlm.tree_send(a.t) IS NOT DISTINCT FROM mlm.tree_send(b.t) AS bin_bytes,
       a.t::text IS NOT DISTINCT FROM c.t::text AS txt_text,
       mlm.tree_send(a.t) IS NOT DISTINCT FROM mlm.tree_send(c.t) AS txt_bytes,
       a.t::text IS NOT DISTINCT FROM a.t::text::mlm.tree::text AS text_in_out,
       mlm.stats(a.t) IS NOT DISTINCT FROM mlm.stats(b.t) AS stats
FROM trees a JOIN trees_bin b USING (k) JOIN trees_txt c USING (k)
ORDER BY k;
SELECT (SELECT count(*) FROM trees_bin) AS bin_rows, (SELECT count(*) FROM trees_txt) AS txt_rows;
-- the loaded snapshot answers like the original
SELECT sum(mlm.depth(a.t, m.member_id)) = sum(mlm.depth(b.t, m.member_id)) AS same_depths,
       sum(m.depth) = sum(mlm.depth(b.t, m.member_id)) AS depth_of_members
FROM trees a JOIN trees_bin b USING (k), mlm.members(a.t) m
WHERE k = 7;
-- leave an empty file behind
COPY (SELECT 1 WHERE false) TO :'binfile';
