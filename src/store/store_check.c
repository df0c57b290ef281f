/* store_check.c: the start-up checks of the data directory (see store.h): a database that is
 * missing or empty beside uploaded files or job directories (the record of them was lost: starting
 * on a fresh one would hide them), and PRAGMA quick_check of an existing database. They report and
 * refuse; they repair nothing. */
#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "store_internal.h"

/* Entries of dir other than "." and ".." (0 when it cannot be read). */
static int count_entries(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) n++;
    closedir(d);
    return n;
}

static long long file_size(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

int store_check_presence(const char *data_dir, const char *database, Err *err) {
    if (database && *database) return 0; /* the record is in PostgreSQL */
    char db[STORE_PATH_MAX], wal[STORE_PATH_MAX], files[STORE_PATH_MAX], jobs[STORE_PATH_MAX];
    snprintf(db, sizeof db, "%s/ftune.db", data_dir);
    snprintf(wal, sizeof wal, "%s/ftune.db-wal", data_dir);
    snprintf(files, sizeof files, "%s/files", data_dir);
    snprintf(jobs, sizeof jobs, "%s/jobs", data_dir);
    long long size = file_size(db);
    if (size > 0 || file_size(wal) > 0) return 0; /* a database (its content may still be in the WAL) */
    int n_files = count_entries(files), n_jobs = count_entries(jobs);
    if (!n_files && !n_jobs) return 0; /* a new data directory */
    return err_set(err, ERR_IO,
                   "%s is %s, but %s holds %d file%s and %s %d job director%s: the record of them is lost. Restore "
                   "the database from a backup (or move this data directory away) instead of starting on an empty "
                   "one",
                   db, size < 0 ? "missing" : "empty", files, n_files, n_files == 1 ? "" : "s", jobs, n_jobs,
                   n_jobs == 1 ? "y" : "ies");
}

int store_check_integrity(Store *s, Err *err) {
    char first[STORE_TEXT_MAX] = "";
    if (db_quick_check(s->db, first, sizeof first)) return store_sql_error(s, "check the database (PRAGMA quick_check)", err);
    if (strcmp(first, "ok") != 0)
        return err_set(err, ERR_FORMAT,
                       "%s is corrupt (PRAGMA quick_check: %s): restore it from a backup, or salvage what it holds "
                       "with `sqlite3 %s .recover`",
                       s->db_path, first, s->db_path);
    return 0;
}
