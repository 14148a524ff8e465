# PGXS build of the mlm extension.
EXTENSION = mlm
EXTVERSION = 0.2
MODULE_big = mlm

# One C file per concern under src/; the plain-C tree codec is shared with
# the fuzz harness under test/fuzz.
OBJS = $(patsubst %.c,%.o,$(sort $(wildcard src/*.c)))

# The install script is assembled from the numbered pieces in src/sql so that
# each concern keeps its own SQL next to its C; it lives outside sql/ and is
# never taken for a regression test.
SQL_PIECES = $(sort $(wildcard src/sql/*.sql))
DATA_built = $(EXTENSION)--$(EXTVERSION).sql

# Released install scripts, kept verbatim, and the upgrade scripts between
# consecutive releases (see DEVELOPER.md: every change to the SQL API after
# 0.1 ships with its upgrade step).
DATA = $(sort $(wildcard sql/$(EXTENSION)--*.sql))

# pg_regress tests: every sql/*.sql except anything shaped like an
# install/upgrade script.
REGRESS = $(filter-out $(EXTENSION)--%,$(basename $(notdir $(sort $(wildcard sql/*.sql)))))
REGRESS_OPTS = --inputdir=. --load-extension=$(EXTENSION)

# Isolation tests (test/isolation/specs/NAME.spec, expected/NAME.out), run
# by `make installcheck` after the pg_regress tests, as contrib does.
ISOLATION = close_concurrent close_vs_inserts
ISOLATION_OPTS = --inputdir=test/isolation --load-extension=$(EXTENSION)

PG_CFLAGS = -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers -Wno-sign-compare
ifdef WERROR
PG_CFLAGS += -Werror
endif

EXTRA_CLEAN = $(DATA_built) test/fuzz/fuzz_tree

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

$(EXTENSION)--$(EXTVERSION).sql: $(SQL_PIECES)
	cat $^ > $@

$(OBJS): $(wildcard src/*.h)
