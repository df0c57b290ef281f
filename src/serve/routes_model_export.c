/* routes_model_export.c: GET /v1/models/{model}/export?format=gguf|peft, an ftune extension (OpenAI
 * never lets weights leave): the adapter of a fine-tuned model, a checkpoint or an --adapter model,
 * as a download. format=gguf: one LoRA adapter GGUF for llama.cpp's --lora and Ollama's ADAPTER
 * (model/export_gguf.h), made for the model's base (loaded through the model cache, as a chat
 * request would load it: the first request for a base nobody has used loads it on the HTTP thread,
 * which then waits as long as a first chat request waits for it; a full cache is a 503);
 * format=peft: a ustar archive of adapter_config.json and
 * adapter_model.safetensors as they lie on disk. The same visibility as the other model routes
 * (another project's model is a 404); a base model has no adapter (400). The file is written under
 * DATA/tmp, opened, unlinked and streamed from the open descriptor. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../core/tar.h"
#include "../worker/registry.h"
#include "routes.h"

/* A new empty file DATA/tmp/export-XXXXXX (path filled), or -1 with err. */
static int temp_file(Ctx *c, char *path, size_t cap, Err *err) {
    snprintf(path, cap, "%s/tmp", c->srv->data_dir);
    if (mkdir(path, 0700) != 0 && errno != EEXIST) return err_set(err, ERR_IO, "%s: %s", path, strerror(errno));
    snprintf(path, cap, "%s/tmp/export-XXXXXX", c->srv->data_dir);
    int fd = mkstemp(path);
    if (fd < 0) return err_set(err, ERR_IO, "%s: %s", path, strerror(errno));
    close(fd);
    return 0;
}

static int write_gguf(Ctx *c, const ModelInfo *m, const char *path, Err *err) {
    const FtModel *base;
    if (model_cache_get(c->srv->cache, m->base_path, &base, err)) return -1;
    FtAdapter *a = NULL;
    FtError fe = {0};
    int rc = ft_adapter_load(base, m->adapter_dir, &a, &fe) || ft_adapter_save_gguf(a, path, &fe) ? -1 : 0;
    if (rc) err_set(err, ERR_IO, "%s", fe.msg); /* never ERR_UNSUPPORTED: that code means a busy cache */
    ft_adapter_free(a);
    model_cache_put(c->srv->cache, base);
    return rc;
}

static int write_peft_tar(const ModelInfo *m, const char *path, Err *err) {
    static const char *const names[] = {"adapter_config.json", "adapter_model.safetensors"};
    char src[2][4200];
    const char *srcs[2] = {src[0], src[1]};
    for (int i = 0; i < 2; i++) snprintf(src[i], sizeof src[i], "%s/%s", m->adapter_dir, names[i]);
    FILE *f = fopen(path, "wb");
    if (!f) return err_set(err, ERR_IO, "%s: %s", path, strerror(errno));
    int rc = tar_write(f, names, srcs, 2, err);
    if (fclose(f) != 0 && !rc) rc = err_set(err, ERR_IO, "%s: %s", path, strerror(errno));
    return rc;
}

void route_models_export(Ctx *c) {
    static const char *const allowed[] = {"format"};
    if (api_query_refused(c, allowed, 1)) return;
    const char *format = http_query(c->req, "format");
    if (!format) {
        api_errorf(c, 400, "invalid_request_error", "format", "missing_required_parameter",
                   "Missing required parameter: 'format' (gguf or peft).");
        return;
    }
    bool gguf = strcmp(format, "gguf") == 0;
    if (!gguf && strcmp(format, "peft") != 0) {
        api_errorf(c, 400, "invalid_request_error", "format", "invalid_value",
                   "Invalid 'format': '%.64s'. Supported values are: 'gguf' and 'peft'.", format);
        return;
    }
    ModelInfo m;
    Err err = {0};
    const char *id = c->req->params[0];
    if (!route_model_lookup(c, id, &m)) return;
    if (m.kind == MODEL_BASE) {
        api_errorf(c, 400, "invalid_request_error", "model", "model_not_exportable",
                   "'%s' is a base model: only fine-tuned models, checkpoints and --adapter models have an adapter "
                   "to export.", id);
        return;
    }
    char path[4096] = "";
    if (temp_file(c, path, sizeof path, &err) ||
        (gguf ? write_gguf(c, &m, path, &err) : write_peft_tar(&m, path, &err))) {
        if (path[0]) unlink(path);
        if (err.code == ERR_UNSUPPORTED) /* the model cache's slots are all in use */
            api_errorf(c, 503, "server_error", NULL, "server_busy", "The server is busy (%s); retry later.", err.msg);
        else
            api_server_error(c, "the adapter could not be exported", &err);
        return;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    unlink(path); /* the open descriptor keeps the data until the response is sent */
    if (fd < 0 || fstat(fd, &st) != 0) {
        err_set(&err, ERR_IO, "%s: %s", path, strerror(errno));
        if (fd >= 0) close(fd);
        api_server_error(c, "the adapter could not be exported", &err);
        return;
    }
    HttpResponse *r = c->res;
    r->status = 200;
    r->fd = fd;
    r->fd_size = (uint64_t)st.st_size;
    snprintf(r->content_type, sizeof r->content_type, "%s", gguf ? "application/octet-stream" : "application/x-tar");
    /* a file name without the characters a header or a file system would mind */
    char name[256];
    size_t k = 0;
    for (const char *p = m.alias[0] ? m.alias : m.id; *p && k + 1 < sizeof name; p++)
        name[k++] = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '-' ||
                            *p == '.' || *p == '_'
                        ? *p
                        : '_';
    name[k] = 0;
    snprintf(r->disposition, sizeof r->disposition, "attachment; filename=\"%s.%s\"", name, gguf ? "gguf" : "tar");
}
