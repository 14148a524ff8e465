-- ---------------------------------------------------------------------------
-- Placement at enrolment: where does a new recruit go?
-- ---------------------------------------------------------------------------

CREATE FUNCTION @extschema@.place_many(
    t @extschema@.tree, member_ids pg_catalog.int8[], sponsor_ids pg_catalog.int8[],
    method pg_catalog.text DEFAULT 'spillover', width pg_catalog.int4 DEFAULT 2,
    measure pg_catalog.text DEFAULT 'members', volumes pg_catalog.regclass DEFAULT NULL,
    OUT member_id pg_catalog.int8, OUT sponsor_id pg_catalog.int8,
    OUT placement_id pg_catalog.int8, OUT "position" pg_catalog.int4)
    RETURNS SETOF record
    AS 'MODULE_PATHNAME', 'mlm_place_many' LANGUAGE C STABLE CALLED ON NULL INPUT PARALLEL RESTRICTED;
COMMENT ON FUNCTION @extschema@.place_many(@extschema@.tree, pg_catalog.int8[], pg_catalog.int8[], pg_catalog.text, pg_catalog.int4, pg_catalog.text, pg_catalog.regclass) IS
    'placement slots for new members in array order (a null member id is an anonymous probe; spillover width w, extreme_left, extreme_right, weaker_leg by members or volume); same as placing them one by one';

CREATE FUNCTION @extschema@.place(
    t @extschema@.tree, sponsor_id pg_catalog.int8,
    method pg_catalog.text DEFAULT 'spillover', width pg_catalog.int4 DEFAULT 2,
    measure pg_catalog.text DEFAULT 'members', volumes pg_catalog.regclass DEFAULT NULL,
    OUT placement_id pg_catalog.int8, OUT "position" pg_catalog.int4)
    RETURNS record
    LANGUAGE sql STABLE PARALLEL RESTRICTED
    AS $$
    SELECT p.placement_id, p."position"
      FROM @extschema@.place_many(t,
               ARRAY[NULL::pg_catalog.int8], ARRAY[sponsor_id],
               method, width, measure, volumes) p
$$;
COMMENT ON FUNCTION @extschema@.place(@extschema@.tree, pg_catalog.int8, pg_catalog.text, pg_catalog.int4, pg_catalog.text, pg_catalog.regclass) IS
    'placement slot (placement_id, position) for one new member under a sponsor';
