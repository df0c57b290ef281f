/* api.h: what every endpoint handler shares: the request context, OpenAI-shaped errors
 * ({"error": {"message", "type", "param", "code"}} with the right HTTP status), JSON responses,
 * and typed reads of request fields that name the bad field. The request-body parsers built on
 * these (chat_request.c, job_request.c) are pure functions so that a fuzz target can drive them. */
#ifndef FTUNE_API_H
#define FTUNE_API_H

#include <jansson.h>
#include <stdbool.h>

#include "../store/store.h"
#include "http.h"

#define API_ORG "ftune"                /* the organisation in fine-tuned model names */
#define API_ORG_ID "org-ftune"         /* organization_id of jobs */
#define API_LIST_DEFAULT 20
#define API_MESSAGE_MAX 640
#define API_METADATA_PAIRS 16          /* OpenAI's metadata: 16 pairs, */
#define API_METADATA_KEY_MAX 64        /* keys of up to 64 characters, */
#define API_METADATA_VALUE_MAX 512     /* string values of up to 512 */

typedef struct {
    int status;                 /* HTTP status */
    const char *type;           /* static: invalid_request_error, not_found_error, ... */
    char param[96];             /* "" = null */
    char code[48];              /* "" = null */
    char message[API_MESSAGE_MAX];
} ApiError;

/* Fills e and returns -1 (so that parsers can `return api_fail(...)`). param/code may be NULL. */
int api_fail(ApiError *e, int status, const char *type, const char *param, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
/* 400 invalid_request_error for a bad field: "Invalid value for 'param': ...". */
int api_bad_param(ApiError *e, const char *param, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* 400 missing_required_parameter: "Missing required parameter: 'param'.". */
int api_missing_param(ApiError *e, const char *param);

/* The error body for e, as JSON text (heap). */
char *api_error_json(const ApiError *e, size_t *len);

typedef struct Server Server;

typedef struct {
    Server *srv;
    HttpRequest *req;
    HttpResponse *res;
    Store *store;               /* this thread's connection */
    const char *project;        /* the project the request acts in (auth.h; req->project) */
} Ctx;

/* True when a record of project owner is the request's to see ("" owner: every project's, as base
 * models are). Another project's record is answered as if it did not exist (404, never 403). */
bool api_visible(const Ctx *c, const char *owner);

/* Responds with obj (taken) as JSON. */
void api_json(Ctx *c, int status, json_t *obj);
/* Responds with the error. */
void api_error(Ctx *c, const ApiError *e);
/* Responds with a new error (see api_fail). */
void api_errorf(Ctx *c, int status, const char *type, const char *param, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
/* 500 server_error saying what failed and giving the request id; the cause (err's message, which
 * may name server paths) goes to the access log only (api_note_cause). */
void api_server_error(Ctx *c, const char *what, const Err *err);
/* Records "what: err's message" as the request's server-side cause, for the access log. */
void api_note_cause(Ctx *c, const char *what, const Err *err);

/* Parses a request body that must be a JSON object (400 naming the line/column otherwise). */
json_t *api_parse_object(const char *body, size_t len, ApiError *e);

/* -1 with a 400 unknown_parameter naming the first key of obj that is not one of the n fields
 * (OpenAI's "Unrecognized request argument supplied"); 0 when all are known. */
int api_check_fields(json_t *obj, const char *const *fields, size_t n, ApiError *e);
/* The same for an object nested at the path `at` ("testing_criteria[0]"): the parameter named is
 * at.key. */
int api_check_fields_at(json_t *obj, const char *at, const char *const *fields, size_t n, ApiError *e);

/* A field of the API that ftune knows but does not implement: 0 when it is absent, null or its
 * neutral value (false, 0, an empty array or object, or one of the n_neutral strings), else -1 with
 * a 400 unsupported_parameter naming it: "KEY is not supported by this server<why>." */
int api_refuse_unless_neutral(json_t *obj, const char *key, const char *const *neutral, int n_neutral, const char *why,
                              ApiError *e);
/* OpenAI's metadata: absent, null, or an object of at most 16 string values (keys up to 64
 * characters, values up to 512); -1 with a 400 naming param otherwise. */
int api_check_metadata(json_t *md, const char *param, ApiError *e);

/* Typed field reads: 0 = present and valid, 1 = absent (or null when null_ok), -1 = wrong type
 * or out of range (e filled, naming the field). */
int api_field_string(json_t *obj, const char *key, bool null_ok, const char **out, ApiError *e);
int api_field_int(json_t *obj, const char *key, long long min, long long max, long long *out, ApiError *e);
int api_field_number(json_t *obj, const char *key, double min, double max, double *out, ApiError *e);
int api_field_bool(json_t *obj, const char *key, bool *out, ApiError *e);

/* Query parameters of list endpoints: limit (1..max, default def), after (NULL when absent). */
int api_query_limit(const HttpRequest *req, int def, int max, int *out, ApiError *e);

/* Query parameters outside allowed[0..n) (an entry ending in '[' allows every key it starts, as
 * "metadata[" does metadata[KEY]): answers 400 unknown_parameter naming the first and returns
 * true; false when every parameter is known. Nothing in a query is silently ignored. */
bool api_query_refused(Ctx *c, const char *const *allowed, int n);

/* Answers the failure of a store list call: an unknown `after` cursor (STORE_NOT_FOUND) is a 400
 * naming it, anything else a 500 naming what (e.g. "events"). Returns true when rc is a failure. */
bool api_list_failed(Ctx *c, int rc, const char *after, const char *what, const Err *err);

/* The list envelope {"object": "list", "data": data, "has_more": has_more} (data taken). */
json_t *api_list(json_t *data, bool has_more);

/* Records in their API shapes. */
json_t *api_file_json(const FileRecord *f);
json_t *api_job_json(const JobRecord *j);
json_t *api_event_json(const EventRecord *e);
json_t *api_checkpoint_json(const CheckpointRecord *k);

#endif
