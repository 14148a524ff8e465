-- test/upgrade/catalog.sql: a description of every object of the extension
-- mlm, one line each, in a stable order, for comparing an upgraded
-- installation with a fresh one (test/shell/upgrade.sh).  Names, types,
-- flags, bodies, defaults, constraints, indexes, triggers, grants and
-- comments are described; oids, column numbers and storage are not.
WITH ext AS (
    SELECT e.oid, e.extnamespace FROM pg_catalog.pg_extension e WHERE e.extname = 'mlm'
), members AS (
    SELECT d.classid, d.objid
      FROM pg_catalog.pg_depend d, ext
     WHERE d.refclassid = 'pg_catalog.pg_extension'::regclass
       AND d.refobjid = ext.oid AND d.deptype = 'e'
), rels AS (
    SELECT c.oid, c.relname, c.relkind FROM pg_catalog.pg_class c
     WHERE c.oid IN (SELECT objid FROM members WHERE classid = 'pg_catalog.pg_class'::regclass)
)
SELECT line FROM (
    SELECT 'function ' || p.oid::regprocedure::text
           || ' returns ' || pg_catalog.pg_get_function_result(p.oid)
           || ' args(' || pg_catalog.pg_get_function_arguments(p.oid) || ')'
           || ' kind=' || p.prokind::text || ' vol=' || p.provolatile::text || ' strict=' || p.proisstrict
           || ' par=' || p.proparallel::text || ' secdef=' || p.prosecdef
           || ' lang=' || l.lanname
           || ' config=' || COALESCE(p.proconfig::text, '-')
           || ' acl=' || COALESCE(p.proacl::text, '-')
           || ' body=' || pg_catalog.md5(COALESCE(p.prosrc, '') || '|' || COALESCE(p.probin, '')
                                         || '|' || COALESCE(pg_catalog.pg_get_function_sqlbody(p.oid), ''))
           || ' comment=' || COALESCE(pg_catalog.obj_description(p.oid, 'pg_proc'), '-') AS line
      FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_language l ON l.oid = p.prolang
     WHERE p.oid IN (SELECT objid FROM members WHERE classid = 'pg_catalog.pg_proc'::regclass)
    UNION ALL
    SELECT 'type ' || t.oid::regtype::text || ' kind=' || t.typtype::text
           || ' len=' || t.typlen || ' align=' || t.typalign::text || ' storage=' || t.typstorage::text
           || ' in=' || t.typinput::text || ' out=' || t.typoutput::text
           || ' recv=' || t.typreceive::text || ' send=' || t.typsend::text
           || ' comment=' || COALESCE(pg_catalog.obj_description(t.oid, 'pg_type'), '-')
      FROM pg_catalog.pg_type t
     WHERE t.oid IN (SELECT objid FROM members WHERE classid = 'pg_catalog.pg_type'::regclass)
    UNION ALL
    SELECT 'relation ' || r.relname || ' kind=' || r.relkind::text
           || ' acl=' || COALESCE(c.relacl::text, '-')
           || ' comment=' || COALESCE(pg_catalog.obj_description(r.oid, 'pg_class'), '-')
           || CASE WHEN r.relkind = 'v' THEN ' def=' || pg_catalog.pg_get_viewdef(r.oid) ELSE '' END
      FROM rels r JOIN pg_catalog.pg_class c ON c.oid = r.oid
    UNION ALL
    SELECT 'column ' || r.relname || '.' || a.attname
           || ' type=' || pg_catalog.format_type(a.atttypid, a.atttypmod)
           || ' notnull=' || a.attnotnull
           || ' default=' || COALESCE(pg_catalog.pg_get_expr(ad.adbin, ad.adrelid), '-')
           || ' acl=' || COALESCE(a.attacl::text, '-')
           || ' comment=' || COALESCE(pg_catalog.col_description(r.oid, a.attnum), '-')
      FROM rels r
      JOIN pg_catalog.pg_attribute a ON a.attrelid = r.oid AND a.attnum > 0 AND NOT a.attisdropped
      LEFT JOIN pg_catalog.pg_attrdef ad ON ad.adrelid = r.oid AND ad.adnum = a.attnum
     WHERE r.relkind IN ('r', 'v', 'p', 'c')
    UNION ALL
    SELECT 'constraint ' || r.relname || '.' || co.conname || ' ' || pg_catalog.pg_get_constraintdef(co.oid)
      FROM rels r JOIN pg_catalog.pg_constraint co ON co.conrelid = r.oid
    UNION ALL
    SELECT 'index ' || pg_catalog.regexp_replace(pg_catalog.pg_get_indexdef(i.indexrelid), ' ON \S+\.', ' ON ')
      FROM rels r JOIN pg_catalog.pg_index i ON i.indrelid = r.oid
    UNION ALL
    SELECT 'trigger ' || r.relname || '.' || tg.tgname || ' ' || pg_catalog.pg_get_triggerdef(tg.oid)
      FROM rels r JOIN pg_catalog.pg_trigger tg ON tg.tgrelid = r.oid AND NOT tg.tgisinternal
    UNION ALL
    SELECT 'event trigger ' || et.evtname || ' on ' || et.evtevent || ' calls ' || et.evtfoid::regproc::text
           || ' tags=' || COALESCE(et.evttags::text, '-') || ' enabled=' || et.evtenabled::text
      FROM pg_catalog.pg_event_trigger et
     WHERE et.oid IN (SELECT objid FROM members WHERE classid = 'pg_catalog.pg_event_trigger'::regclass)
    UNION ALL
    SELECT 'config dump ' || c.relname || ' ' || COALESCE(x.cond, '')
      FROM pg_catalog.pg_extension e
      CROSS JOIN LATERAL pg_catalog.generate_subscripts(e.extconfig, 1) AS i
      CROSS JOIN LATERAL (SELECT e.extconfig[i] AS relid, e.extcondition[i] AS cond) x
      JOIN pg_catalog.pg_class c ON c.oid = x.relid
     WHERE e.extname = 'mlm'
    UNION ALL
    SELECT 'member ' || pg_catalog.pg_describe_object(m.classid, m.objid, 0)
      FROM members m
    UNION ALL
    SELECT 'schema acl=' || COALESCE(n.nspacl::text, '-') || ' owner-is-ext-owner='
           || (n.nspowner = (SELECT e.extowner FROM pg_catalog.pg_extension e WHERE e.extname = 'mlm'))
      FROM pg_catalog.pg_namespace n, ext WHERE n.oid = ext.extnamespace
) d
ORDER BY line COLLATE "C";
