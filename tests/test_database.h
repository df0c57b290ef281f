/* test_database.h: which database the store tests run against. Without FTUNE_TEST_DATABASE, SQLite
 * in each test's data directory (NULL, store_open's default); with FTUNE_TEST_DATABASE=
 * postgresql://..., that PostgreSQL database, one schema per data directory (made on first use,
 * so that each test starts empty and a reopen of the same directory finds its rows):
 * tests/cli/store_postgres.sh starts a throwaway cluster and runs `unit_tests store` this way. */
#ifndef FTUNE_TEST_DATABASE_H
#define FTUNE_TEST_DATABASE_H

#include <stdbool.h>
#include <stddef.h>

/* The database argument of store_open for data directory dir (a per-thread buffer, valid until the
 * thread's next call); NULL for SQLite. */
const char *test_database(const char *dir);
/* True when the tests run on PostgreSQL. */
bool test_on_postgres(void);
/* Runs sql on dir's PostgreSQL schema through a connection of its own; the first column of its
 * first row (if any) into out. 0, or -1 with the test failed. */
int test_pg_sql(const char *dir, const char *sql, char *out, size_t size);

#endif
