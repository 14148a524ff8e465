#!/usr/bin/env python3
"""test/upgrade/changed_functions.py - the functions an upgrade script must
(re)create.

Compares every CREATE FUNCTION block of the install pieces (src/sql/*.sql,
in install order) with the same function (name and argument types, taken
from its COMMENT ON FUNCTION line) in a frozen release script, and prints
the blocks that are new or changed, ready to paste into
sql/mlm--<release>--<next>.sql: changed ones as CREATE OR REPLACE FUNCTION,
new ones as CREATE FUNCTION, each with its comments, COMMENT, REVOKE and
GRANT statements.  A function whose arguments changed shows up as new: the
upgrade script must also drop the old one (and carry its grants over).
Types, tables, triggers and other objects are not covered; the catalog
comparison of test/shell/upgrade.sh catches anything missed.

usage: python3 test/upgrade/changed_functions.py [sql/mlm--0.1.sql] [--list]
"""
import glob
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HEAD = re.compile(r'^CREATE FUNCTION (@extschema@\.)?([a-z_0-9]+)\(')


def blocks(text):
    """(key, block with leading comments, statement text) of each function."""
    lines = text.split("\n")
    out = []
    i = 0
    while i < len(lines):
        m = HEAD.match(lines[i])
        if not m:
            i += 1
            continue
        k = i
        while k > 0 and lines[k - 1].startswith('--') and not lines[k - 1].startswith('-----'):
            k -= 1
        head = " ".join(lines[i:i + 15])
        c_func = 'MODULE_PATHNAME' in " ".join(lines[i:i + 8])
        dollar = 'AS $$' in head and not c_func
        atomic = 'BEGIN ATOMIC' in " ".join(lines[i:i + 6])
        j = i
        while j < len(lines):
            x = lines[j]
            if dollar and j > i and re.match(r'^\$\$;', x):
                break
            if dollar and j > i and x.rstrip().endswith('$$;') and x.count('$$') == 1 \
                    and not x.lstrip().startswith('AS'):
                break
            if atomic and x == 'END;':
                break
            if not dollar and not atomic and x.rstrip().endswith(';'):
                break
            j += 1
        j += 1
        while j < len(lines) and lines[j].startswith(('COMMENT', 'REVOKE', 'GRANT')):
            while not lines[j].rstrip().endswith(';'):
                j += 1
            j += 1
        body = "\n".join(lines[i:j])
        cm = re.search(r'COMMENT ON FUNCTION (@extschema@\.)?([a-z_0-9]+\([^)]*\))', body)
        # functions without a comment (overloaded support functions) by text
        key = cm.group(2) if cm else body
        out.append((key, "\n".join(lines[k:j]), body))
        i = j
    return out


def main():
    args = [a for a in sys.argv[1:] if not a.startswith('--')]
    release = args[0] if args else os.path.join(ROOT, 'sql', 'mlm--0.1.sql')
    old = {key: body for key, _, body in blocks(open(release).read())}
    pieces = sorted(glob.glob(os.path.join(ROOT, 'src', 'sql', '*.sql')))
    for key, full, body in blocks("".join(open(f).read() for f in pieces)):
        if old.get(key) == body:
            continue
        label = key if cm_key(key) else body.split("\n")[0]
        if '--list' in sys.argv:
            print(("changed " if key in old else "new     ") + label)
            continue
        if key in old:
            full = full.replace('CREATE FUNCTION', 'CREATE OR REPLACE FUNCTION', 1)
        print(full)
        print()


def cm_key(key):
    return "\n" not in key


if __name__ == '__main__':
    main()
