/* test_main.c: runs the registered C unit tests and prints "N passed, N failed" last. */
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/file.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test.h"

#define MAX_TESTS 1024

typedef struct {
    const char *name;
    TestFn fn;
} TestCase;

static TestCase tests[MAX_TESTS];
static int n_tests, cur_failed, cur_skipped;

void test_register(const char *name, TestFn fn) {
    if (n_tests < MAX_TESTS) {
        tests[n_tests].name = name;
        tests[n_tests].fn = fn;
        n_tests++;
    }
}

void test_fail(const char *file, int line, const char *fmt, ...) {
    if (cur_failed < 10) { /* cap the noise of one test */
        fprintf(stderr, "    %s:%d: ", file, line);
        va_list ap;
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
    }
    cur_failed++;
}

int test_failed_now(void) { return cur_failed; }

void test_skip(const char *reason) {
    fprintf(stderr, "    skipped: %s\n", reason);
    cur_skipped = 1;
}

const char *test_path(const char *rel) {
    static char buf[4096];
    snprintf(buf, sizeof buf, "%s", rel);
    return buf;
}

const char *test_model(const char *shared_rel, const char *local_name) {
    static char buf[4096];
    snprintf(buf, sizeof buf, "../shared/%s", shared_rel);
    if (access(buf, R_OK) == 0) return buf;
    snprintf(buf, sizeof buf, "models/%s", local_name);
    if (access(buf, R_OK) == 0) return buf;
    return NULL;
}

static int by_name(const void *a, const void *b) {
    return strcmp(((const TestCase *)a)->name, ((const TestCase *)b)->name);
}

/* Some tests write fixed paths under /tmp (/tmp/ftune_trainer_a, ...): two runs at once on one machine
 * (two checkouts) would overwrite each other's files, so a run waits for the other to finish. */
#define TEST_LOCK "/tmp/ftune_unit_tests.lock"

int main(int argc, char **argv) {
    const char *filter = argc > 1 ? argv[1] : NULL;
    int lock = open(TEST_LOCK, O_RDWR | O_CREAT, 0666);
    if (lock >= 0 && flock(lock, LOCK_EX | LOCK_NB) != 0) {
        fprintf(stderr, "another unit test run holds %s: waiting for it\n", TEST_LOCK);
        flock(lock, LOCK_EX);
    }
    qsort(tests, n_tests, sizeof tests[0], by_name);
    int passed = 0, failed = 0, skipped = 0;
    for (int i = 0; i < n_tests; i++) {
        if (filter && !strstr(tests[i].name, filter)) continue;
        cur_failed = 0;
        cur_skipped = 0;
        tests[i].fn();
        if (cur_failed) {
            failed++;
            fprintf(stderr, "FAIL %s (%d checks failed)\n", tests[i].name, cur_failed);
        } else if (cur_skipped) {
            skipped++;
            printf("skip %s\n", tests[i].name);
        } else {
            passed++;
            printf("ok   %s\n", tests[i].name);
        }
        fflush(stdout);
    }
    printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
    return failed ? 1 : 0;
}
