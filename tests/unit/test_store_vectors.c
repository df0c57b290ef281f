/* test_store_vectors.c: vector stores in the store (store_vectors.c): a store and its files round-trip
 * with their counts and bytes, lists page by project, a file is attached once, finishing stores its
 * chunks as one contiguous matrix in insertion order and makes them searchable by BM25 (the chunk
 * with a rare word first, FTS5 syntax in a query taken as words), a failed or detached file keeps
 * no chunks, deleting a store or a file removes its chunks from both the table and the index, and
 * files left in_progress are failed at start-up; a store's expiry and modification round-trip, a
 * file batch attaches its files all or none (the conflicting one named), counts and lists them by
 * batch and status, cancelling it cancels its unfinished files (whose chunks are then refused),
 * attributes are replaced, the chunks of the files a test keeps are listed in id order, and an
 * uploaded file forgotten leaves every store. On SQLite, and on PostgreSQL under
 * tests/cli/store_postgres.sh (FTUNE_TEST_DATABASE; full-text search through ts_rank there). */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "store/store.h"
#include "test.h"
#include "test_database.h"

#define DIM 4

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

static VectorStoreRecord make_store(const char *id, const char *project) {
    VectorStoreRecord v = {.created_at = 1700000000, .last_active_at = 1700000000};
    snprintf(v.id, sizeof v.id, "%s", id);
    snprintf(v.project, sizeof v.project, "%s", project);
    snprintf(v.model, sizeof v.model, "all-MiniLM-L6-v2");
    return v;
}

static VectorFileRecord make_file(const char *store, const char *file) {
    VectorFileRecord f = {.created_at = 1700000001, .chunk_max = 800, .chunk_overlap = 400};
    snprintf(f.store_id, sizeof f.store_id, "%s", store);
    snprintf(f.file_id, sizeof f.file_id, "%s", file);
    return f;
}

TEST(store_vectors_roundtrip_and_search) {
    char dir[] = "/tmp/ftune_test_vs_XXXXXX";
    REQUIRE(mkdtemp(dir));
    Store *s;
    Err err = {0};
    REQUIRE(store_open(dir, test_database(dir), &s, &err) == 0);
    VectorStoreRecord v = make_store("vs_a", "proj_1"), w = make_store("vs_b", "proj_1"), x = make_store("vs_c", "proj_2");
    snprintf(v.name, sizeof v.name, "kb");
    snprintf(v.metadata, sizeof v.metadata, "{\"k\":\"v\"}");
    REQUIRE(store_vs_create(s, &v, &err) == 0 && store_vs_create(s, &w, &err) == 0 && store_vs_create(s, &x, &err) == 0);
    VectorStoreRecord g;
    REQUIRE(store_vs_get(s, "vs_a", &g, &err) == 0);
    CHECK(!strcmp(g.name, "kb") && !strcmp(g.project, "proj_1") && !strcmp(g.metadata, "{\"k\":\"v\"}") &&
          !strcmp(g.model, "all-MiniLM-L6-v2") && g.counts.completed == 0 && g.counts.usage_bytes == 0);
    CHECK(store_vs_get(s, "vs_none", &g, &err) == STORE_NOT_FOUND);
    VectorStoreRecord *list;
    int n;
    bool more;
    REQUIRE(store_vs_list(s, "proj_1", NULL, 1, false, &list, &n, &more, &err) == 0);
    CHECK(n == 1 && more && !strcmp(list[0].id, "vs_b")); /* newest first */
    free(list);
    REQUIRE(store_vs_list(s, "proj_1", "vs_b", 10, false, &list, &n, &more, &err) == 0);
    CHECK(n == 1 && !more && !strcmp(list[0].id, "vs_a"));
    free(list);
    CHECK(store_vs_list(s, "proj_1", "vs_c", 10, false, &list, &n, &more, &err) == STORE_NOT_FOUND); /* another project's */

    /* files: attach once, finish with chunks */
    VectorFileRecord f1 = make_file("vs_a", "file-1"), f2 = make_file("vs_a", "file-2"), f3 = make_file("vs_a", "file-3");
    REQUIRE(store_vs_file_add(s, &f1, &err) == 0);
    CHECK(store_vs_file_add(s, &f1, &err) == STORE_CONFLICT);
    REQUIRE(store_vs_file_add(s, &f2, &err) == 0 && store_vs_file_add(s, &f3, &err) == 0);
    float e[3][DIM] = {{1, 0, 0, 0}, {0, 1, 0, 0}, {0, 0, 1, 0}};
    VectorChunkIn c1[2] = {{"refunds take five business days", 31, e[0]}, {"the zyxvort gadget is blue", 26, e[1]}};
    VectorChunkIn c2[1] = {{"cards can be frozen in the app", 30, e[2]}};
    REQUIRE(store_vs_file_finish(s, "vs_a", "file-1", c1, 2, DIM, NULL, &err) == 0);
    REQUIRE(store_vs_file_finish(s, "vs_a", "file-2", c2, 1, DIM, NULL, &err) == 0);
    REQUIRE(store_vs_file_finish(s, "vs_a", "file-3", NULL, 0, DIM, "not UTF-8", &err) == 0);
    CHECK(store_vs_file_finish(s, "vs_a", "file-1", c2, 1, DIM, NULL, &err) == STORE_NOT_FOUND); /* not in_progress */
    REQUIRE(store_vs_get(s, "vs_a", &g, &err) == 0);
    CHECK(g.counts.completed == 2 && g.counts.failed == 1 && g.counts.in_progress == 0);
    CHECK(g.counts.usage_bytes == 31 + 26 + 30 + 3 * DIM * 4);
    VectorFileRecord fr;
    REQUIRE(store_vs_file_get(s, "vs_a", "file-3", &fr, &err) == 0);
    CHECK(!strcmp(fr.status, "failed") && !strcmp(fr.last_error, "not UTF-8") && fr.chunk_max == 800);
    VectorFileRecord *files;
    REQUIRE(store_vs_file_list(s, "vs_a", NULL, NULL, NULL, 2, true, &files, &n, &more, &err) == 0);
    CHECK(n == 2 && more && !strcmp(files[0].file_id, "file-1") && !strcmp(files[1].file_id, "file-2"));
    free(files);

    /* the vectors as one matrix, in insertion order */
    int64_t *ids;
    float *vecs;
    REQUIRE(store_vs_vectors(s, "vs_a", DIM, &ids, &vecs, &n, &err) == 0);
    CHECK(n == 3 && ids[0] < ids[1] && ids[1] < ids[2]);
    CHECK(!memcmp(vecs, e, sizeof e));
    /* BM25: the rare word's chunk; query syntax is only words */
    int64_t *hit;
    double *score;
    int nh;
    REQUIRE(store_vs_text_search(s, "vs_a", "Zyxvort? \"gadget\" OR (NEAR", 10, &hit, &score, &nh, &err) == 0);
    CHECK(nh == 1 && hit[0] == ids[1] && score[0] > 0);
    free(hit), free(score);
    REQUIRE(store_vs_text_search(s, "vs_b", "zyxvort", 10, &hit, &score, &nh, &err) == 0);
    CHECK(nh == 0); /* another store's chunks are not found */
    free(hit), free(score);
    REQUIRE(store_vs_text_search(s, "vs_a", "?!", 10, &hit, &score, &nh, &err) == 0);
    CHECK(nh == 0);
    free(hit), free(score);
    char file_id[STORE_ID_MAX], *text;
    REQUIRE(store_vs_chunk(s, ids[2], file_id, &text, &err) == 0);
    CHECK(!strcmp(file_id, "file-2") && !strcmp(text, "cards can be frozen in the app"));
    free(text);
    free(ids), free(vecs);

    /* a file detached before it finished keeps nothing; detaching removes chunks and index rows */
    VectorFileRecord f4 = make_file("vs_a", "file-4");
    REQUIRE(store_vs_file_add(s, &f4, &err) == 0);
    REQUIRE(store_vs_file_delete(s, "vs_a", "file-4", &err) == 0);
    CHECK(store_vs_file_finish(s, "vs_a", "file-4", c2, 1, DIM, NULL, &err) == STORE_NOT_FOUND);
    REQUIRE(store_vs_file_delete(s, "vs_a", "file-1", &err) == 0);
    CHECK(store_vs_file_delete(s, "vs_a", "file-1", &err) == STORE_NOT_FOUND);
    REQUIRE(store_vs_vectors(s, "vs_a", DIM, &ids, &vecs, &n, &err) == 0);
    CHECK(n == 1);
    free(ids), free(vecs);
    REQUIRE(store_vs_text_search(s, "vs_a", "zyxvort", 10, &hit, &score, &nh, &err) == 0);
    CHECK(nh == 0);
    free(hit), free(score);

    /* in_progress at start-up: failed */
    VectorFileRecord f5 = make_file("vs_b", "file-5");
    REQUIRE(store_vs_file_add(s, &f5, &err) == 0);
    REQUIRE(store_vs_fail_in_progress(s, &err) == 0);
    REQUIRE(store_vs_file_get(s, "vs_b", "file-5", &fr, &err) == 0);
    CHECK(!strcmp(fr.status, "failed") && strstr(fr.last_error, "stopped"));

    /* deleting a store takes its files and chunks */
    REQUIRE(store_vs_delete(s, "vs_a", &err) == 0);
    CHECK(store_vs_delete(s, "vs_a", &err) == STORE_NOT_FOUND);
    CHECK(store_vs_file_get(s, "vs_a", "file-2", &fr, &err) == STORE_NOT_FOUND);
    REQUIRE(store_vs_text_search(s, "vs_a", "cards", 10, &hit, &score, &nh, &err) == 0);
    CHECK(nh == 0);
    free(hit), free(score);
    store_close(s);
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static bool keep_year(const char *file_id, const char *attributes, void *user) {
    (void)file_id;
    return strstr(attributes, (const char *)user) != NULL;
}

TEST(store_vectors_batches_expiry_attributes) {
    char dir[] = "/tmp/ftune_test_vs_XXXXXX";
    REQUIRE(mkdtemp(dir));
    Store *s;
    Err err = {0};
    REQUIRE(store_open(dir, test_database(dir), &s, &err) == 0);
    VectorStoreRecord v = make_store("vs_e", "proj_1"), g;
    v.expires_days = 3;
    REQUIRE(store_vs_create(s, &v, &err) == 0);
    REQUIRE(store_vs_get(s, "vs_e", &g, &err) == 0);
    CHECK(g.expires_days == 3 && g.last_active_at == 1700000000);
    snprintf(g.name, sizeof g.name, "renamed");
    g.expires_days = 0;
    REQUIRE(store_vs_update(s, &g, &err) == 0);
    REQUIRE(store_vs_touch(s, "vs_e", 1700000500, &err) == 0);
    REQUIRE(store_vs_get(s, "vs_e", &g, &err) == 0);
    CHECK(!strcmp(g.name, "renamed") && g.expires_days == 0 && g.last_active_at == 1700000500);
    CHECK(store_vs_touch(s, "vs_none", 1, &err) == STORE_NOT_FOUND);

    /* a batch of three files, all or none */
    VectorFileIn in[3] = {{"file-a", "{\"year\":2021}", 800, 400}, {"file-b", "{\"year\":2023}", 100, 0},
                          {"file-c", NULL, 800, 400}};
    int conflict;
    REQUIRE(store_vs_files_add(s, "vs_e", 1700000600, NULL, &in[2], 1, &conflict, &err) == 0); /* file-c alone */
    CHECK(store_vs_files_add(s, "vs_e", 1700000700, "vsfb_1", in, 3, &conflict, &err) == STORE_CONFLICT && conflict == 2);
    VectorBatchRecord b;
    CHECK(store_vs_batch_get(s, "vs_e", "vsfb_1", &b, &err) == STORE_NOT_FOUND); /* rolled back */
    VectorFileRecord fr;
    CHECK(store_vs_file_get(s, "vs_e", "file-a", &fr, &err) == STORE_NOT_FOUND);
    REQUIRE(store_vs_files_add(s, "vs_e", 1700000700, "vsfb_1", in, 2, &conflict, &err) == 0);
    REQUIRE(store_vs_batch_get(s, "vs_e", "vsfb_1", &b, &err) == 0);
    CHECK(!strcmp(b.store_id, "vs_e") && b.created_at == 1700000700 && !b.cancelled && b.counts.in_progress == 2);
    CHECK(store_vs_batch_get(s, "vs_other", "vsfb_1", &b, &err) == STORE_NOT_FOUND);
    REQUIRE(store_vs_file_get(s, "vs_e", "file-b", &fr, &err) == 0);
    CHECK(!strcmp(fr.batch_id, "vsfb_1") && fr.chunk_max == 100 && !strcmp(fr.attributes, "{\"year\":2023}"));
    REQUIRE(store_vs_get(s, "vs_e", &g, &err) == 0);
    CHECK(g.last_active_at == 1700000700 && g.counts.in_progress == 3);

    /* file-a completes; cancelling leaves it and cancels file-b, which then keeps nothing */
    float e[DIM] = {1, 0, 0, 0};
    VectorChunkIn ca[1] = {{"solar panels on the roof", 24, e}};
    REQUIRE(store_vs_file_finish(s, "vs_e", "file-a", ca, 1, DIM, NULL, &err) == 0);
    REQUIRE(store_vs_batch_cancel(s, "vs_e", "vsfb_1", &err) == 0);
    CHECK(store_vs_batch_cancel(s, "vs_e", "vsfb_none", &err) == STORE_NOT_FOUND);
    CHECK(store_vs_file_finish(s, "vs_e", "file-b", ca, 1, DIM, NULL, &err) == STORE_NOT_FOUND);
    REQUIRE(store_vs_batch_get(s, "vs_e", "vsfb_1", &b, &err) == 0);
    CHECK(b.cancelled && b.counts.completed == 1 && b.counts.cancelled == 1 && b.counts.in_progress == 0);
    REQUIRE(store_vs_get(s, "vs_e", &g, &err) == 0);
    CHECK(g.counts.cancelled == 1 && g.counts.in_progress == 1 && g.counts.completed == 1);

    /* lists by batch and by status */
    VectorFileRecord *files;
    int n;
    bool more;
    REQUIRE(store_vs_file_list(s, "vs_e", "vsfb_1", NULL, NULL, 10, true, &files, &n, &more, &err) == 0);
    CHECK(n == 2 && !more && !strcmp(files[0].file_id, "file-a") && !strcmp(files[1].file_id, "file-b"));
    free(files);
    REQUIRE(store_vs_file_list(s, "vs_e", "vsfb_1", "cancelled", NULL, 10, true, &files, &n, &more, &err) == 0);
    CHECK(n == 1 && !strcmp(files[0].file_id, "file-b") && !strcmp(files[0].status, "cancelled"));
    free(files);
    REQUIRE(store_vs_file_list(s, "vs_e", NULL, "in_progress", NULL, 10, false, &files, &n, &more, &err) == 0);
    CHECK(n == 1 && !strcmp(files[0].file_id, "file-c"));
    free(files);
    REQUIRE(store_vs_file_list(s, "vs_e", "vsfb_1", NULL, "file-a", 10, true, &files, &n, &more, &err) == 0);
    CHECK(n == 1 && !strcmp(files[0].file_id, "file-b")); /* paged after file-a */
    free(files);

    /* attributes replaced and cleared; chunks of the kept files */
    REQUIRE(store_vs_file_finish(s, "vs_e", "file-c", ca, 1, DIM, NULL, &err) == 0);
    REQUIRE(store_vs_file_set_attributes(s, "vs_e", "file-c", "{\"year\":2021}", &err) == 0);
    CHECK(store_vs_file_set_attributes(s, "vs_e", "file-none", "{}", &err) == STORE_NOT_FOUND);
    int64_t *ids, *all;
    float *vecs;
    int n_all;
    REQUIRE(store_vs_vectors(s, "vs_e", DIM, &all, &vecs, &n_all, &err) == 0);
    CHECK(n_all == 2);
    REQUIRE(store_vs_chunks_where(s, "vs_e", keep_year, "2021", &ids, &n, &err) == 0);
    CHECK(n == 2 && ids[0] == all[0] && ids[1] == all[1]);
    free(ids);
    REQUIRE(store_vs_file_set_attributes(s, "vs_e", "file-a", "", &err) == 0);
    REQUIRE(store_vs_file_get(s, "vs_e", "file-a", &fr, &err) == 0);
    CHECK(fr.attributes[0] == 0);
    REQUIRE(store_vs_chunks_where(s, "vs_e", keep_year, "2021", &ids, &n, &err) == 0);
    CHECK(n == 1 && ids[0] == all[1]);
    free(ids);
    REQUIRE(store_vs_chunks_where(s, "vs_e", keep_year, "1999", &ids, &n, &err) == 0);
    CHECK(n == 0 && ids == NULL);
    free(all), free(vecs);

    /* an uploaded file forgotten leaves every store, with its chunks */
    VectorStoreRecord w = make_store("vs_f", "proj_1");
    REQUIRE(store_vs_create(s, &w, &err) == 0);
    REQUIRE(store_vs_files_add(s, "vs_f", 1700000800, NULL, &in[2], 1, &conflict, &err) == 0);
    REQUIRE(store_vs_file_forget(s, "file-c", &err) == 0);
    CHECK(store_vs_file_get(s, "vs_e", "file-c", &fr, &err) == STORE_NOT_FOUND);
    CHECK(store_vs_file_get(s, "vs_f", "file-c", &fr, &err) == STORE_NOT_FOUND);
    REQUIRE(store_vs_vectors(s, "vs_e", DIM, &all, &vecs, &n_all, &err) == 0);
    CHECK(n_all == 1);
    free(all), free(vecs);
    REQUIRE(store_vs_file_get(s, "vs_e", "file-a", &fr, &err) == 0);

    /* deleting the store takes its batches */
    REQUIRE(store_vs_delete(s, "vs_e", &err) == 0);
    CHECK(store_vs_batch_get(s, "vs_e", "vsfb_1", &b, &err) == STORE_NOT_FOUND);
    store_close(s);
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}
