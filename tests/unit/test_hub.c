/* test_hub.c: the parts of `ftune pull` that need no server (the downloads themselves are tested
 * end to end by tests/e2e/test_pull.py): file digests against published values (Git's ids of the
 * empty blob and of "hello\n", which `git hash-object` prints, and FIPS 180-2's SHA-256 of "abc"),
 * read in pieces across a file larger than one read; repository ids; which files a pull takes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/digest.h"
#include "hub/hub_pull.h"
#include "test.h"

static void write_file(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return;
    fwrite(data, 1, n, f);
    fclose(f);
}

TEST(hub_file_digests_match_published_values) {
    char path[] = "/tmp/ftune_test_hub_XXXXXX";
    int fd = mkstemp(path);
    REQUIRE(fd >= 0);
    close(fd);
    char hex[DIGEST_SHA256_HEX];
    Err err = {0};
    write_file(path, "", 0);
    REQUIRE(digest_file_git_blob_hex(path, hex, &err) == 0);
    CHECK(strcmp(hex, "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391") == 0);
    write_file(path, "hello\n", 6);
    REQUIRE(digest_file_git_blob_hex(path, hex, &err) == 0);
    CHECK(strcmp(hex, "ce013625030ba8dba906f756967f9e9ca394464a") == 0);
    write_file(path, "abc", 3);
    REQUIRE(digest_file_sha256_hex(path, hex, &err) == 0);
    CHECK(strcmp(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad") == 0);
    /* 200,000 bytes (several reads): the file digest equals the one-shot digest of the bytes */
    size_t n = 200000;
    unsigned char *big = malloc(n);
    REQUIRE(big);
    for (size_t i = 0; i < n; i++) big[i] = (unsigned char)(i * 2654435761u >> 13);
    write_file(path, big, n);
    char one_shot[DIGEST_SHA256_HEX];
    digest_sha256_hex(big, n, one_shot);
    REQUIRE(digest_file_sha256_hex(path, hex, &err) == 0);
    CHECK(strcmp(hex, one_shot) == 0);
    free(big);
    unlink(path);
    CHECK(digest_file_sha256_hex(path, hex, &err) != 0 && strstr(err.msg, path) != NULL);
}

TEST(hub_repository_ids) {
    Err err = {0};
    CHECK(hub_check_repo_id("HuggingFaceTB/SmolLM2-135M-Instruct", &err) == 0);
    CHECK(hub_check_repo_id("gpt2", &err) == 0);
    CHECK(hub_check_repo_id("a/b/c", &err) != 0);
    CHECK(hub_check_repo_id("../etc", &err) != 0);
    CHECK(hub_check_repo_id("owner/na..me", &err) != 0);
    CHECK(hub_check_repo_id("owner/", &err) != 0);
    CHECK(hub_check_repo_id("own er/x", &err) != 0 && strstr(err.msg, "' '") != NULL);
}

static HubRepo repo_of(HubFile *files, int n) {
    HubRepo r = {.files = files, .n_files = n};
    snprintf(r.repo, sizeof r.repo, "o/r");
    snprintf(r.revision, sizeof r.revision, "main");
    return r;
}

TEST(hub_choice_of_files) {
    HubFile folder[] = {{.path = "config.json"},       {.path = "model.safetensors"}, {.path = "pytorch_model.bin"},
                        {.path = "1_Pooling/config.json"}, {.path = "onnx/model.onnx"}, {.path = ".gitattributes"},
                        {.path = "model.Q4_K_M.gguf"}};
    HubRepo r = repo_of(folder, 7);
    bool take[7], gguf;
    Err err = {0};
    REQUIRE(hub_choose_files(&r, NULL, 0, take, &gguf, &err) == 0);
    bool want[7] = {true, true, false, true, false, false, false};
    for (int i = 0; i < 7; i++) CHECK(take[i] == want[i]);
    CHECK(!gguf);
    /* '*' crosses '/': *.json takes both config files */
    const char *json[] = {"*.json"};
    REQUIRE(hub_choose_files(&r, json, 1, take, &gguf, &err) == 0);
    CHECK(take[0] && take[3] && !take[1] && !gguf);
    const char *q4[] = {"*Q4_K_M.gguf"};
    REQUIRE(hub_choose_files(&r, q4, 1, take, &gguf, &err) == 0);
    CHECK(take[6] && gguf);
    const char *none[] = {"*.xyz"};
    CHECK(hub_choose_files(&r, none, 1, take, &gguf, &err) != 0 && strstr(err.msg, "config.json") != NULL);

    HubFile ggufs[] = {{.path = "README.md"}, {.path = "m.Q8_0.gguf"}, {.path = "m.F16.gguf"}};
    r = repo_of(ggufs, 3);
    CHECK(hub_choose_files(&r, NULL, 0, take, &gguf, &err) != 0 && strstr(err.msg, "2 GGUF files") != NULL &&
          strstr(err.msg, "m.F16.gguf") != NULL);
    r.n_files = 2; /* one GGUF file: taken alone */
    REQUIRE(hub_choose_files(&r, NULL, 0, take, &gguf, &err) == 0);
    CHECK(!take[0] && take[1] && gguf);
    HubFile nothing[] = {{.path = "README.md"}};
    r = repo_of(nothing, 1);
    CHECK(hub_choose_files(&r, NULL, 0, take, &gguf, &err) != 0 && strstr(err.msg, "neither") != NULL);
}
