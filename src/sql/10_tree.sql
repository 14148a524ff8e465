-- ---------------------------------------------------------------------------
-- The genealogy tree type
-- ---------------------------------------------------------------------------

CREATE TYPE @extschema@.tree;

CREATE FUNCTION @extschema@.tree_in(pg_catalog.cstring) RETURNS @extschema@.tree
    AS 'MODULE_PATHNAME', 'mlm_tree_in' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.tree_out(@extschema@.tree) RETURNS pg_catalog.cstring
    AS 'MODULE_PATHNAME', 'mlm_tree_out' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.tree_recv(pg_catalog.internal) RETURNS @extschema@.tree
    AS 'MODULE_PATHNAME', 'mlm_tree_recv' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.tree_send(@extschema@.tree) RETURNS pg_catalog.bytea
    AS 'MODULE_PATHNAME', 'mlm_tree_send' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE TYPE @extschema@.tree (
    INPUT = @extschema@.tree_in,
    OUTPUT = @extschema@.tree_out,
    RECEIVE = @extschema@.tree_recv,
    SEND = @extschema@.tree_send,
    INTERNALLENGTH = VARIABLE,
    ALIGNMENT = double,
    STORAGE = external
);
COMMENT ON TYPE @extschema@.tree IS
    'snapshot of a genealogy forest (sponsor tree, optionally placement tree) with fast traversal';
COMMENT ON FUNCTION @extschema@.tree_in(pg_catalog.cstring) IS 'text input of mlm.tree: {id,id:sponsor,id:sponsor:placement:position,...}';
COMMENT ON FUNCTION @extschema@.tree_out(@extschema@.tree) IS 'text output of mlm.tree, in sponsor preorder';
COMMENT ON FUNCTION @extschema@.tree_recv(pg_catalog.internal) IS 'binary input of mlm.tree; validates every byte';
COMMENT ON FUNCTION @extschema@.tree_send(@extschema@.tree) IS 'binary output of mlm.tree (format version 1)';

-- Aggregates -----------------------------------------------------------------

CREATE FUNCTION @extschema@.tree_agg_trans(pg_catalog.internal, pg_catalog.int8, pg_catalog.int8)
    RETURNS pg_catalog.internal AS 'MODULE_PATHNAME', 'mlm_tree_agg_trans'
    LANGUAGE C CALLED ON NULL INPUT PARALLEL SAFE;
CREATE FUNCTION @extschema@.tree_agg_trans(pg_catalog.internal, pg_catalog.int8, pg_catalog.int8, pg_catalog.int8, pg_catalog.int4)
    RETURNS pg_catalog.internal AS 'MODULE_PATHNAME', 'mlm_tree_agg_trans4'
    LANGUAGE C CALLED ON NULL INPUT PARALLEL SAFE;
CREATE FUNCTION @extschema@.tree_agg_combine(pg_catalog.internal, pg_catalog.internal)
    RETURNS pg_catalog.internal AS 'MODULE_PATHNAME', 'mlm_tree_agg_combine'
    LANGUAGE C CALLED ON NULL INPUT PARALLEL SAFE;
CREATE FUNCTION @extschema@.tree_agg_serial(pg_catalog.internal)
    RETURNS pg_catalog.bytea AS 'MODULE_PATHNAME', 'mlm_tree_agg_serial'
    LANGUAGE C STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.tree_agg_deserial(pg_catalog.bytea, pg_catalog.internal)
    RETURNS pg_catalog.internal AS 'MODULE_PATHNAME', 'mlm_tree_agg_deserial'
    LANGUAGE C STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.tree_agg_final(pg_catalog.internal)
    RETURNS @extschema@.tree AS 'MODULE_PATHNAME', 'mlm_tree_agg_final'
    LANGUAGE C CALLED ON NULL INPUT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.tree_agg_trans(pg_catalog.internal, pg_catalog.int8, pg_catalog.int8) IS 'transition function of mlm.tree_agg(id, sponsor_id)';
COMMENT ON FUNCTION @extschema@.tree_agg_trans(pg_catalog.internal, pg_catalog.int8, pg_catalog.int8, pg_catalog.int8, pg_catalog.int4) IS 'transition function of mlm.tree_agg(id, sponsor_id, placement_id, position)';
COMMENT ON FUNCTION @extschema@.tree_agg_combine(pg_catalog.internal, pg_catalog.internal) IS 'combines partial mlm.tree_agg states of parallel workers';
COMMENT ON FUNCTION @extschema@.tree_agg_serial(pg_catalog.internal) IS 'serializes a partial mlm.tree_agg state';
COMMENT ON FUNCTION @extschema@.tree_agg_deserial(pg_catalog.bytea, pg_catalog.internal) IS 'deserializes a partial mlm.tree_agg state';
COMMENT ON FUNCTION @extschema@.tree_agg_final(pg_catalog.internal) IS 'validates the collected rows and builds the mlm.tree';

CREATE AGGREGATE @extschema@.tree_agg(id pg_catalog.int8, sponsor_id pg_catalog.int8) (
    SFUNC = @extschema@.tree_agg_trans,
    STYPE = pg_catalog.internal,
    FINALFUNC = @extschema@.tree_agg_final,
    FINALFUNC_MODIFY = READ_ONLY,
    COMBINEFUNC = @extschema@.tree_agg_combine,
    SERIALFUNC = @extschema@.tree_agg_serial,
    DESERIALFUNC = @extschema@.tree_agg_deserial,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.tree_agg(pg_catalog.int8, pg_catalog.int8) IS
    'builds a sponsor-tree snapshot from (id, sponsor_id) rows; null sponsor = root';

CREATE AGGREGATE @extschema@.tree_agg(id pg_catalog.int8, sponsor_id pg_catalog.int8,
                                      placement_id pg_catalog.int8, "position" pg_catalog.int4) (
    SFUNC = @extschema@.tree_agg_trans,
    STYPE = pg_catalog.internal,
    FINALFUNC = @extschema@.tree_agg_final,
    FINALFUNC_MODIFY = READ_ONLY,
    COMBINEFUNC = @extschema@.tree_agg_combine,
    SERIALFUNC = @extschema@.tree_agg_serial,
    DESERIALFUNC = @extschema@.tree_agg_deserial,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE @extschema@.tree_agg(pg_catalog.int8, pg_catalog.int8, pg_catalog.int8, pg_catalog.int4) IS
    'builds a snapshot carrying both the sponsor tree and the placement tree (placement_id, position)';

-- Traversal --------------------------------------------------------------------

CREATE FUNCTION @extschema@.size(t @extschema@.tree) RETURNS pg_catalog.int4
    AS 'MODULE_PATHNAME', 'mlm_tree_size' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.size(@extschema@.tree) IS 'number of members in the snapshot (reads only the header)';

CREATE FUNCTION @extschema@.roots(t @extschema@.tree) RETURNS SETOF pg_catalog.int8
    AS 'MODULE_PATHNAME', 'mlm_tree_roots' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.roots(@extschema@.tree) IS 'members without a sponsor, by id';

CREATE FUNCTION @extschema@.contains(t @extschema@.tree, member_id pg_catalog.int8) RETURNS pg_catalog.bool
    AS 'MODULE_PATHNAME', 'mlm_tree_contains' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.contains(@extschema@.tree, pg_catalog.int8) IS 'true when the member is in the snapshot';

CREATE FUNCTION @extschema@.parent(t @extschema@.tree, member_id pg_catalog.int8) RETURNS pg_catalog.int8
    AS 'MODULE_PATHNAME', 'mlm_tree_parent' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.parent(@extschema@.tree, pg_catalog.int8) IS 'sponsor of a member; NULL for a root or an unknown id';

CREATE FUNCTION @extschema@.children(t @extschema@.tree, member_id pg_catalog.int8) RETURNS SETOF pg_catalog.int8
    AS 'MODULE_PATHNAME', 'mlm_tree_children' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.children(@extschema@.tree, pg_catalog.int8) IS 'personally sponsored members (frontline), by id; error for an unknown id';

CREATE FUNCTION @extschema@.depth(t @extschema@.tree, member_id pg_catalog.int8) RETURNS pg_catalog.int4
    AS 'MODULE_PATHNAME', 'mlm_tree_depth' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.depth(@extschema@.tree, pg_catalog.int8) IS 'sponsor edges from the member up to its root (root = 0); NULL for an unknown id';

CREATE FUNCTION @extschema@.path(t @extschema@.tree, member_id pg_catalog.int8) RETURNS pg_catalog.int8[]
    AS 'MODULE_PATHNAME', 'mlm_tree_path' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.path(@extschema@.tree, pg_catalog.int8) IS 'ids from the root down to the member; NULL for an unknown id';

CREATE FUNCTION @extschema@.upline(t @extschema@.tree, member_id pg_catalog.int8,
                                   OUT member_id pg_catalog.int8, OUT level pg_catalog.int4)
    RETURNS SETOF record
    AS 'MODULE_PATHNAME', 'mlm_tree_upline' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.upline(@extschema@.tree, pg_catalog.int8) IS 'sponsor ancestors with level (1 = sponsor) up to the root; error for an unknown id';

CREATE FUNCTION @extschema@.downline(t @extschema@.tree, member_id pg_catalog.int8, max_depth pg_catalog.int4 DEFAULT NULL,
                                     OUT member_id pg_catalog.int8, OUT level pg_catalog.int4)
    RETURNS SETOF record
    AS 'MODULE_PATHNAME', 'mlm_tree_downline' LANGUAGE C IMMUTABLE CALLED ON NULL INPUT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.downline(@extschema@.tree, pg_catalog.int8, pg_catalog.int4) IS 'descendants in preorder with level (1 = frontline), optionally down to max_depth levels; error for an unknown id';

CREATE FUNCTION @extschema@.is_descendant(t @extschema@.tree, ancestor_id pg_catalog.int8, descendant_id pg_catalog.int8) RETURNS pg_catalog.bool
    AS 'MODULE_PATHNAME', 'mlm_tree_is_descendant' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.is_descendant(@extschema@.tree, pg_catalog.int8, pg_catalog.int8) IS 'true when descendant_id is strictly below ancestor_id; NULL for an unknown id';

CREATE FUNCTION @extschema@.subtree_size(t @extschema@.tree, member_id pg_catalog.int8) RETURNS pg_catalog.int4
    AS 'MODULE_PATHNAME', 'mlm_tree_subtree_size' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.subtree_size(@extschema@.tree, pg_catalog.int8) IS 'members in the subtree of a member, itself included; NULL for an unknown id';

CREATE FUNCTION @extschema@.leg(t @extschema@.tree, ancestor_id pg_catalog.int8, descendant_id pg_catalog.int8) RETURNS pg_catalog.int8
    AS 'MODULE_PATHNAME', 'mlm_tree_leg' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.leg(@extschema@.tree, pg_catalog.int8, pg_catalog.int8) IS 'the frontline member of ancestor_id whose leg holds descendant_id; NULL when not a descendant';

CREATE FUNCTION @extschema@.stats(t @extschema@.tree,
                                  OUT members pg_catalog.int8, OUT roots pg_catalog.int8, OUT leaves pg_catalog.int8,
                                  OUT max_depth pg_catalog.int4, OUT mean_depth pg_catalog.numeric,
                                  OUT widest_frontline pg_catalog.int4)
    AS 'MODULE_PATHNAME', 'mlm_tree_stats' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.stats(@extschema@.tree) IS 'members, roots, leaves, max and mean depth, widest frontline';

CREATE FUNCTION @extschema@.members(t @extschema@.tree,
                                    OUT member_id pg_catalog.int8, OUT sponsor_id pg_catalog.int8, OUT depth pg_catalog.int4,
                                    OUT placement_id pg_catalog.int8, OUT "position" pg_catalog.int4)
    RETURNS SETOF record
    AS 'MODULE_PATHNAME', 'mlm_tree_members' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.members(@extschema@.tree) IS 'unpacks a snapshot: every member with sponsor, depth and placement, in preorder';

CREATE FUNCTION @extschema@.placement_parent(t @extschema@.tree, member_id pg_catalog.int8) RETURNS pg_catalog.int8
    AS 'MODULE_PATHNAME', 'mlm_tree_placement_parent' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.placement_parent(@extschema@.tree, pg_catalog.int8) IS 'placement parent of a member; NULL without placement or for an unknown id';
