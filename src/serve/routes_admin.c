/* routes_admin.c: /v1/organization/projects and /v1/organization/projects/{id}/api_keys, modelled
 * on OpenAI's administration API, for admin keys and the server's --api-key keys (server.c checks
 * that): list, create and retrieve projects; list, create, retrieve and delete a project's keys.
 * Creating a key is an ftune extension (OpenAI makes project keys in its dashboard): the answer
 * holds the secret as "value", the only time it is shown. Deleting a key revokes it: it stops
 * working at once, and `ftune keys list` still shows it, revoked. Projects are not archived or
 * renamed here. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "routes.h"

#define ADMIN_LIST_DEFAULT 20
#define ADMIN_LIST_MAX 100

static json_t *project_json(const ProjectRecord *p) {
    return json_pack("{s:s, s:s, s:s, s:I, s:n, s:s}", "id", p->id, "object", "organization.project", "name", p->name,
                     "created_at", (json_int_t)p->created_at, "archived_at", "status", "active");
}

static json_t *key_json(const KeyRecord *k) {
    return json_pack("{s:s, s:s, s:s, s:o, s:I, s:n, s:s}", "id", k->id, "object", "organization.project.api_key",
                     "redacted_value", k->redacted, "name", k->name[0] ? json_string(k->name) : json_null(),
                     "created_at", (json_int_t)k->created_at, "last_used_at", "project_id", k->project);
}

/* {"object": "list", "data", "first_id", "last_id", "has_more"}: ids[0] and ids[n - 1]. */
static json_t *paged(json_t *data, const char *first, const char *last, bool more) {
    json_t *list = api_list(data, more);
    json_object_set_new(list, "first_id", first ? json_string(first) : json_null());
    json_object_set_new(list, "last_id", last ? json_string(last) : json_null());
    return list;
}

/* The project named by the path's first segment (its id); answers 404/500 and returns non-zero
 * when there is none. */
static int load_project(Ctx *c, ProjectRecord *p) {
    Err err = {0};
    const char *id = c->req->params[0];
    int rc = store_project_get(c->store, id, p, &err);
    if (rc == 0 && strcmp(p->id, id) != 0) rc = STORE_NOT_FOUND; /* by id only, as OpenAI's paths */
    if (rc == STORE_NOT_FOUND)
        api_errorf(c, 404, "invalid_request_error", "project_id", "project_not_found", "No such project: %s", id);
    else if (rc)
        api_server_error(c, "the project could not be read", &err);
    return rc;
}

void route_admin_projects_list(Ctx *c) {
    ApiError e;
    int limit;
    if (api_query_limit(c->req, ADMIN_LIST_DEFAULT, ADMIN_LIST_MAX, &limit, &e)) {
        api_error(c, &e);
        return;
    }
    const char *after = http_query(c->req, "after");
    ProjectRecord *list;
    int n;
    bool more;
    Err err = {0};
    int rc = store_project_list(c->store, after, limit, &list, &n, &more, &err);
    if (api_list_failed(c, rc, after, "projects", &err)) return;
    json_t *data = json_array();
    for (int i = 0; i < n; i++) json_array_append_new(data, project_json(&list[i]));
    api_json(c, 200, paged(data, n ? list[0].id : NULL, n ? list[n - 1].id : NULL, more));
    free(list);
}

void route_admin_projects_create(Ctx *c) {
    static const char *const FIELDS[] = {"name"};
    ApiError e;
    const char *name = NULL;
    json_t *body = api_parse_object(c->req->body, c->req->body_len, &e);
    int rc = body ? api_check_fields(body, FIELDS, 1, &e) : -1;
    if (rc == 0) rc = api_field_string(body, "name", false, &name, &e);
    if (rc == 1 || (rc == 0 && (!name[0] || strlen(name) >= STORE_NAME_MAX)))
        rc = api_bad_param(&e, "name", "a project needs a name of 1 to %d bytes.", STORE_NAME_MAX - 1);
    if (rc) {
        json_decref(body);
        api_error(c, &e);
        return;
    }
    ProjectRecord p;
    Err err = {0};
    rc = store_project_create(c->store, name, &p, &err);
    if (rc == STORE_CONFLICT)
        api_errorf(c, 409, "invalid_request_error", "name", "project_exists", "A project named '%s' exists already.",
                   name);
    else if (rc)
        api_server_error(c, "the project could not be created", &err);
    else
        api_json(c, 200, project_json(&p));
    json_decref(body);
}

void route_admin_projects_get(Ctx *c) {
    ProjectRecord p;
    if (load_project(c, &p) == 0) api_json(c, 200, project_json(&p));
}

void route_admin_keys_list(Ctx *c) {
    ApiError e;
    int limit;
    ProjectRecord p;
    if (api_query_limit(c->req, ADMIN_LIST_DEFAULT, ADMIN_LIST_MAX, &limit, &e)) {
        api_error(c, &e);
        return;
    }
    if (load_project(c, &p)) return;
    const char *after = http_query(c->req, "after");
    Err err = {0};
    json_t *data = json_array();
    const char *first = NULL;
    char first_id[STORE_ID_MAX] = "", last_id[STORE_ID_MAX] = "", cursor[STORE_ID_MAX];
    bool more = true;
    /* revoked keys are skipped (OpenAI deletes them), so pages are read until limit active ones */
    while (more && (int)json_array_size(data) < limit) {
        KeyRecord *keys;
        int n;
        int rc = store_key_list(c->store, p.id, after, limit, &keys, &n, &more, &err);
        if (api_list_failed(c, rc, after, "API keys", &err)) {
            json_decref(data);
            return;
        }
        for (int i = 0; i < n; i++) {
            if (keys[i].revoked_at) continue;
            if ((int)json_array_size(data) == limit) {
                more = true;
                break;
            }
            json_array_append_new(data, key_json(&keys[i]));
            if (!first_id[0]) snprintf(first_id, sizeof first_id, "%s", keys[i].id);
            snprintf(last_id, sizeof last_id, "%s", keys[i].id);
        }
        if (n) snprintf(cursor, sizeof cursor, "%s", keys[n - 1].id);
        after = cursor;
        free(keys);
        if (!n) break;
    }
    if (first_id[0]) first = first_id;
    api_json(c, 200, paged(data, first, first ? last_id : NULL, more));
}

void route_admin_keys_create(Ctx *c) {
    static const char *const FIELDS[] = {"name"};
    ProjectRecord p;
    if (load_project(c, &p)) return;
    ApiError e;
    const char *name = NULL;
    json_t *body = c->req->body_len ? api_parse_object(c->req->body, c->req->body_len, &e) : json_object();
    int rc = body ? api_check_fields(body, FIELDS, 1, &e) : -1;
    if (rc == 0) rc = api_field_string(body, "name", true, &name, &e);
    if (rc == 0 && strlen(name) >= STORE_NAME_MAX) rc = api_bad_param(&e, "name", "at most %d bytes.", STORE_NAME_MAX - 1);
    if (rc < 0) {
        json_decref(body);
        api_error(c, &e);
        return;
    }
    KeyRecord k;
    char secret[STORE_KEY_SECRET_MAX];
    Err err = {0};
    if (store_key_create(c->store, p.id, name, &k, secret, &err)) {
        api_server_error(c, "the API key could not be created", &err);
    } else {
        json_t *obj = key_json(&k);
        json_object_set_new(obj, "value", json_string(secret));
        api_json(c, 200, obj);
    }
    memset(secret, 0, sizeof secret);
    json_decref(body);
}

/* The active key named by the path's second segment, of the project of the first; answers
 * 404/500 and returns non-zero otherwise. */
static int load_key(Ctx *c, KeyRecord *k) {
    ProjectRecord p;
    if (load_project(c, &p)) return -1;
    Err err = {0};
    const char *id = c->req->params[1];
    int rc = store_key_get(c->store, id, k, &err);
    if (rc == 0 && (strcmp(k->project, p.id) != 0 || k->revoked_at)) rc = STORE_NOT_FOUND;
    if (rc == STORE_NOT_FOUND)
        api_errorf(c, 404, "invalid_request_error", "key_id", "api_key_not_found", "No such API key in project %s: %s",
                   p.id, id);
    else if (rc)
        api_server_error(c, "the API key could not be read", &err);
    return rc;
}

void route_admin_keys_get(Ctx *c) {
    KeyRecord k;
    if (load_key(c, &k) == 0) api_json(c, 200, key_json(&k));
}

void route_admin_keys_delete(Ctx *c) {
    KeyRecord k;
    if (load_key(c, &k)) return;
    Err err = {0};
    int rc = store_key_revoke(c->store, k.id, &err);
    if (rc == STORE_NOT_FOUND || rc == STORE_CONFLICT) /* revoked by another request meanwhile */
        api_errorf(c, 404, "invalid_request_error", "key_id", "api_key_not_found", "No such API key: %s", k.id);
    else if (rc)
        api_server_error(c, "the API key could not be revoked", &err);
    else
        api_json(c, 200, json_pack("{s:s, s:s, s:b}", "object", "organization.project.api_key.deleted", "id", k.id,
                                   "deleted", 1));
}
