# ftune: one binary, plain make. `make demo` and `make test` install what is missing first.
CC ?= gcc
OPT ?= -O3 -march=native
CFLAGS ?= $(OPT) -g
CFLAGS += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -fopenmp -Isrc -Itests -I/usr/include/x86_64-linux-gnu/openblas-openmp
# libpq (libpq-dev): the store's PostgreSQL backend (src/store/db_pg.c)
CFLAGS += -I/usr/include/postgresql
# -Wno-psabi: GCC notes that 64-byte vectors (dot_fixed.h) pass differently without AVX-512; they
# only pass between static functions of one file, never across an ABI boundary (an AVX2-only
# build failed on that note under -Werror)
CFLAGS += -Wno-psabi
# -fno-trapping-math: ftune never reads the floating-point exception flags. With GCC's default
# (trapping math) the clamps in fast_exp.h's loops stay branches on AVX2, and the loops of SiLU,
# softmax and the cross-entropy ran one value at a time there (AVX-512's masks vectorised them).
# Each value's arithmetic is the same either way; no reassociation is allowed by it.
CFLAGS += -fno-trapping-math
# OpenBLAS built on OpenMP shares libgomp's thread pool with our own loops (the pthread build and
# OpenMP spin against each other and run ~10x slower on decode).
OPENBLAS_DIR ?= /usr/lib/x86_64-linux-gnu/openblas-openmp
LDLIBS = -L$(OPENBLAS_DIR) -Wl,-rpath,$(OPENBLAS_DIR) -lopenblas -ljansson -lpcre2-8 -lsqlite3 -lpq -lmicrohttpd -lcurl -lcrypto -lpthread -lm -fopenmp
# oneDNN (libdnnl-dev) brings the bf16 path (AMX / AVX512-BF16); without it ftune builds fp32 only.
# DNNL=0 builds without it even where it is installed.
DNNL ?= $(if $(wildcard /usr/include/oneapi/dnnl/dnnl.h),1,0)
ifeq ($(DNNL),1)
CFLAGS += -DFTUNE_HAVE_DNNL
LDLIBS += -ldnnl
endif

# Open MPI (libopenmpi-dev) brings data-parallel training (`mpirun -n N ftune train`, see
# src/train/data_parallel.h); without it ftune trains in one process and refuses an mpirun launch
# of several. MPI=0 builds without it even where it is installed.
MPI ?= $(if $(shell command -v mpicc 2>/dev/null),1,0)
ifeq ($(MPI),1)
CFLAGS += -DFTUNE_HAVE_MPI $(shell mpicc --showme:compile)
LDLIBS += $(shell mpicc --showme:link)
endif

BUILD = build
LIB_SRC = $(filter-out src/main.c,$(wildcard src/*/*.c) $(wildcard src/*.c))
# The web console's pages (src/console/), embedded as byte arrays in a generated C file
# (scripts/embed_console.sh, coreutils only) that goes into every build of the library.
CONSOLE_FILES = $(sort $(wildcard src/console/*.html src/console/*.css src/console/*.js))
CONSOLE_C = $(BUILD)/gen/console_assets.c
LIB_OBJ = $(LIB_SRC:%.c=$(BUILD)/%.o) $(BUILD)/gen/console_assets.o
TEST_SRC = $(wildcard tests/unit/*.c) tests/test_main.c tests/test_models.c tests/test_weights.c tests/test_database.c
TEST_OBJ = $(TEST_SRC:%.c=$(BUILD)/%.o)
FUZZ_SRC = $(wildcard tests/fuzz/*.c)
FUZZ_BIN = $(FUZZ_SRC:tests/fuzz/%.c=$(BUILD)/fuzz_%)

.PHONY: all setup models test test-slow tsan unit-test demo bench fuzz clean

all: $(BUILD)/ftune

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(CONSOLE_C): scripts/embed_console.sh $(CONSOLE_FILES)
	@mkdir -p $(dir $@)
	bash scripts/embed_console.sh $@ $(CONSOLE_FILES)

$(BUILD)/gen/console_assets.o: $(CONSOLE_C) src/serve/console.h
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/libftune.a: $(LIB_OBJ)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/ftune: $(BUILD)/src/main.o $(BUILD)/libftune.a
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

$(BUILD)/unit_tests: $(TEST_OBJ) $(BUILD)/libftune.a
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

$(BUILD)/bench_%: bench/bench_%.c $(BUILD)/libftune.a
	$(CC) $(CFLAGS) $^ -o $@ $(LDLIBS)

# Fuzz targets and their copy of the library are built with ASan/UBSan, at -O1.
SAN = -fsanitize=address,undefined -fno-omit-frame-pointer
ASAN_OBJ = $(LIB_SRC:%.c=$(BUILD)/asan/%.o) $(BUILD)/asan/gen/console_assets.o

$(BUILD)/asan/gen/console_assets.o: $(CONSOLE_C) src/serve/console.h
	@mkdir -p $(dir $@)
	$(CC) $(filter-out $(OPT),$(CFLAGS)) -O1 -c $< -o $@

$(BUILD)/asan/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(filter-out $(OPT),$(CFLAGS)) -O1 -march=native $(SAN) -MMD -MP -c $< -o $@

$(BUILD)/asan/libftune.a: $(ASAN_OBJ)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/fuzz_%: tests/fuzz/%.c $(BUILD)/asan/libftune.a
	$(CC) $(filter-out $(OPT),$(CFLAGS)) -O1 -march=native $(SAN) $^ -o $@ $(LDLIBS)

# ThreadSanitizer build of the binary and the unit tests (build/tsan/, -O1), for `make tsan`.
TSAN_DIR = $(BUILD)/tsan
TSAN = -fsanitize=thread -fno-omit-frame-pointer
TSAN_OBJ = $(LIB_SRC:%.c=$(TSAN_DIR)/%.o) $(TSAN_DIR)/gen/console_assets.o

$(TSAN_DIR)/gen/console_assets.o: $(CONSOLE_C) src/serve/console.h
	@mkdir -p $(dir $@)
	$(CC) $(filter-out $(OPT),$(CFLAGS)) -O1 -c $< -o $@

$(TSAN_DIR)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(filter-out $(OPT),$(CFLAGS)) -O1 -march=native $(TSAN) -MMD -MP -c $< -o $@

$(TSAN_DIR)/libftune.a: $(TSAN_OBJ)
	rm -f $@ && ar rcs $@ $^

$(TSAN_DIR)/ftune: $(TSAN_DIR)/src/main.o $(TSAN_DIR)/libftune.a
	$(CC) $(filter-out $(OPT),$(CFLAGS)) -O1 $(TSAN) $^ -o $@ $(LDLIBS)

$(TSAN_DIR)/unit_tests: $(TEST_SRC:%.c=$(TSAN_DIR)/%.o) $(TSAN_DIR)/libftune.a
	$(CC) $(filter-out $(OPT),$(CFLAGS)) -O1 $(TSAN) $^ -o $@ $(LDLIBS)

# The server's unit tests and e2e scripts under ThreadSanitizer (tests/tsan.sh; not in `make test`).
tsan: setup
	@$(MAKE) --no-print-directory $(TSAN_DIR)/ftune $(TSAN_DIR)/unit_tests
	@bash scripts/fetch_models.sh
	@bash tests/tsan.sh

setup:
	@bash scripts/setup.sh

models:
	@bash scripts/fetch_models.sh

# Every test: installs what is missing, builds, fetches the models, runs unit, CLI and fuzz tests.
test: setup
	@$(MAKE) --no-print-directory all $(BUILD)/unit_tests $(FUZZ_BIN)
	@bash scripts/fetch_models.sh
	@bash tests/run.sh

# The slow durability checks, not in `make test` (which runs a sample of each): the whole
# fault-injection sweep (every write, fsync, rename and allocation of ftune's, every 50th of
# SQLite's allocations) and 50 kill -9.
test-slow: setup
	@$(MAKE) --no-print-directory all
	@bash scripts/fetch_models.sh
	python3 tests/e2e/test_faults.py --all
	python3 tests/e2e/test_kill9.py --iterations 50

unit-test: $(BUILD)/unit_tests
	./$(BUILD)/unit_tests

fuzz: $(FUZZ_BIN)

# The main job, end to end: ftune serve, upload + fine-tune SmolLM2-135M-Instruct on support-triage
# through the official openai SDK, then ftune eval against the base model with the long prompt.
demo: setup
	@$(MAKE) --no-print-directory all
	@bash scripts/fetch_models.sh
	python3 scripts/demo.py

bench: setup all
	@bash scripts/fetch_models.sh
	@bash bench/run.sh

clean:
	rm -rf $(BUILD)

-include $(LIB_SRC:%.c=$(BUILD)/%.d) $(TEST_OBJ:.o=.d) $(LIB_SRC:%.c=$(BUILD)/asan/%.d) $(LIB_SRC:%.c=$(TSAN_DIR)/%.d) $(BUILD)/src/main.d
