/* test_database.c: the store tests' database per data directory (test_database.h): a PostgreSQL
 * schema named after a hash of the directory, created through libpq, and the URI that selects it
 * (options=-csearch_path=<schema>). */
#include "test_database.h"

#include <libpq-fe.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test.h"

static void quiet(void *arg, const char *message) { (void)arg, (void)message; } /* "already exists" */

bool test_on_postgres(void) {
    const char *url = getenv("FTUNE_TEST_DATABASE");
    return url && *url;
}

const char *test_database(const char *dir) {
    static __thread char out[2048];
    if (!test_on_postgres()) return NULL;
    const char *url = getenv("FTUNE_TEST_DATABASE");
    uint64_t h = 1469598103934665603ULL; /* FNV-1a of the directory */
    for (const char *p = dir; *p; p++) h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    char schema[32];
    snprintf(schema, sizeof schema, "t_%016llx", (unsigned long long)h);
    PGconn *conn = PQconnectdb(url);
    if (PQstatus(conn) != CONNECTION_OK) {
        test_fail(__FILE__, __LINE__, "FTUNE_TEST_DATABASE: %s", PQerrorMessage(conn));
    } else {
        PQsetNoticeProcessor(conn, quiet, NULL);
        char sql[96];
        snprintf(sql, sizeof sql, "CREATE SCHEMA IF NOT EXISTS %s", schema);
        PGresult *res = PQexec(conn, sql);
        /* two threads creating it at once: one of them finds it made (unique violation) */
        if (PQresultStatus(res) != PGRES_COMMAND_OK &&
            strcmp(PQresultErrorField(res, PG_DIAG_SQLSTATE) ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : "", "23505") != 0)
            test_fail(__FILE__, __LINE__, "%s: %s", sql, PQresultErrorMessage(res));
        PQclear(res);
    }
    PQfinish(conn);
    snprintf(out, sizeof out, "%s%soptions=-csearch_path%%3D%s", url, strchr(url, '?') ? "&" : "?", schema);
    return out;
}

int test_pg_sql(const char *dir, const char *sql, char *out, size_t size) {
    if (out && size) out[0] = 0;
    PGconn *conn = PQconnectdb(test_database(dir));
    int rc = -1;
    if (PQstatus(conn) != CONNECTION_OK) {
        test_fail(__FILE__, __LINE__, "%s: %s", sql, PQerrorMessage(conn));
    } else {
        PGresult *res = PQexec(conn, sql);
        ExecStatusType st = PQresultStatus(res);
        if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) {
            rc = 0;
            if (out && st == PGRES_TUPLES_OK && PQntuples(res) > 0 && !PQgetisnull(res, 0, 0))
                snprintf(out, size, "%s", PQgetvalue(res, 0, 0));
        } else {
            test_fail(__FILE__, __LINE__, "%s: %s", sql, PQresultErrorMessage(res));
        }
        PQclear(res);
    }
    PQfinish(conn);
    return rc;
}
