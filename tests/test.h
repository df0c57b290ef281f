/* test.h: a minimal test framework for the C unit tests.
 * TEST(name) { ... } registers a test; CHECK/CHECK_EQ_INT/CHECK_NEAR record a failure with file
 * and line and let the test continue; REQUIRE returns from the test on failure. The runner
 * (test_main.c) runs every test, or those whose name contains argv[1], and ends with the line
 * "N passed, N failed". Tests find fixtures through test_path(). */
#ifndef FTUNE_TEST_H
#define FTUNE_TEST_H

#include <math.h>
#include <stdio.h>

typedef void (*TestFn)(void);
void test_register(const char *name, TestFn fn);
void test_fail(const char *file, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int test_failed_now(void);
/* Path of a file under the repository root (tests run from the root): returns a static buffer. */
const char *test_path(const char *rel);
/* Path of a shared model file: ../shared/<rel> if present, else models/<basename>; NULL if neither. */
const char *test_model(const char *shared_rel, const char *local_name);
/* Marks the running test as skipped (with a reason) when a fixture is unavailable. */
void test_skip(const char *reason);

#define TEST(name)                                                                            \
    static void name(void);                                                                   \
    __attribute__((constructor)) static void register_##name(void) { test_register(#name, name); } \
    static void name(void)

#define CHECK(cond)                                                   \
    do {                                                              \
        if (!(cond)) test_fail(__FILE__, __LINE__, "CHECK(%s)", #cond); \
    } while (0)

#define REQUIRE(cond)                                                   \
    do {                                                                \
        if (!(cond)) {                                                  \
            test_fail(__FILE__, __LINE__, "REQUIRE(%s)", #cond);        \
            return;                                                     \
        }                                                               \
    } while (0)

#define CHECK_EQ_INT(a, b)                                                                    \
    do {                                                                                      \
        long long a_ = (long long)(a), b_ = (long long)(b);                                   \
        if (a_ != b_) test_fail(__FILE__, __LINE__, "%s == %s: %lld != %lld", #a, #b, a_, b_); \
    } while (0)

#define CHECK_NEAR(a, b, tol)                                                                       \
    do {                                                                                            \
        double a_ = (double)(a), b_ = (double)(b);                                                  \
        if (!(fabs(a_ - b_) <= (tol))) test_fail(__FILE__, __LINE__, "%s ~ %s: %g vs %g (tol %g)", #a, #b, a_, b_, (double)(tol)); \
    } while (0)

#endif
