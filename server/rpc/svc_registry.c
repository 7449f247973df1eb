/* evbridge — evbridge.v1.SchemaRegistry: data models (JSON Schema) under subjects.
 *
 * Writes (register, delete, set compatibility) need a schema-owner or admin key; any
 * authenticated key reads and validates. The registry logic lives in server/schemas/;
 * this file maps messages and errors.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/text.h"
#include "evbridge/v1/registry.pb-c.h"
#include "server/rpc/svc.h"
#include "server/schemas/schemas.h"

typedef Evbridge__V1__Schema pb_schema;

static int may_write(evb_services *svc, evb_rpc_call *call)
{
    evb_principal p;
    if (!evb_svc_auth(svc, call, &p))
        return 0;
    if (p.role != EVB_ROLE_ADMIN && p.role != EVB_ROLE_SCHEMA_OWNER) {
        evb_svc_deny(call, "changing data models needs a schema-owner or admin key");
        return 0;
    }
    return 1;
}

static int may_read(evb_services *svc, evb_rpc_call *call)
{
    evb_principal p;
    return evb_svc_auth(svc, call, &p);
}

static int subject_ok(evb_rpc_call *call, const char *subject)
{
    if (evb_schemas_subject_valid(subject))
        return 1;
    evb_rpc_reply_error(call, EVB_RPC_INVALID_ARGUMENT,
                        "subject must match [a-z0-9][a-z0-9._-]{0,127}");
    return 0;
}

/* Joins report messages into one status message (bounded). */
static void join_report(const evb_compat_report *rep, char *out, size_t outlen)
{
    size_t used = (size_t)snprintf(out, outlen, "incompatible: ");
    for (size_t i = 0; i < rep->n && used < outlen; i++)
        used += (size_t)snprintf(out + used, outlen - used, "%s%s", i ? "; " : "",
                                 rep->messages[i]);
}

static void register_schema(evb_rpc_call *call, const uint8_t *req, size_t len, void *arg)
{
    evb_services *svc = arg;
    if (!may_write(svc, call))
        return;
    Evbridge__V1__RegisterSchemaRequest *r =
        evbridge__v1__register_schema_request__unpack(NULL, len, req);
    if (r == NULL) {
        evb_rpc_reply_error(call, EVB_RPC_INVALID_ARGUMENT, "malformed RegisterSchemaRequest");
        return;
    }
    evb_error e;
    evb_error_clear(&e);
    evb_schema_rec *rec = NULL;
    evb_compat_report rep;
    int created = 0;
    evb_err rc = evb_schemas_register(svc->schemas, r->subject, r->schema, &rec, &created, &rep,
                                      &e);
    if (rc == EVB_ERR_PRECONDITION && rep.n > 0) {
        char msg[4096];
        join_report(&rep, msg, sizeof msg);
        evb_rpc_reply_error(call, EVB_RPC_FAILED_PRECONDITION, evb_utf8_sanitize(msg));
    } else if (rc != EVB_OK) {
        evb_svc_reply_err(call, rc, &e);
    } else {
        Evbridge__V1__RegisterSchemaResponse resp = EVBRIDGE__V1__REGISTER_SCHEMA_RESPONSE__INIT;
        resp.id = rec->id;
        resp.version = rec->version;
        evb_svc_reply_msg(call, &resp.base);
    }
    evb_compat_report_fini(&rep);
    evb_schema_rec_free(rec);
    evbridge__v1__register_schema_request__free_unpacked(r, NULL);
}

static void reply_schema(evb_rpc_call *call, evb_err rc, evb_schema_rec *rec, const char *what)
{
    if (rc != EVB_OK) {
        evb_error e;
        evb_error_set(&e, rc, NULL, "%s: %s", what, evb_strerror(rc));
        evb_svc_reply_err(call, rc, &e);
        return;
    }
    evb_arena *a = evb_arena_new();
    pb_schema s = EVBRIDGE__V1__SCHEMA__INIT;
    s.subject = rec->subject;
    s.version = rec->version;
    s.id = rec->id;
    s.schema = rec->schema;
    s.deleted = rec->deleted != 0;
    s.create_time = a ? evb_arena_time(a, rec->create_ms) : NULL;
    if (s.create_time == NULL)
        evb_rpc_reply_error(call, EVB_RPC_INTERNAL, "out of memory");
    else
        evb_svc_reply_msg(call, &s.base);
    evb_arena_free(a);
    evb_schema_rec_free(rec);
}

static void get_schema(evb_rpc_call *call, const uint8_t *req, size_t len, void *arg)
{
    evb_services *svc = arg;
    if (!may_read(svc, call))
        return;
    Evbridge__V1__GetSchemaRequest *r = evbridge__v1__get_schema_request__unpack(NULL, len, req);
    if (r == NULL) {
        evb_rpc_reply_error(call, EVB_RPC_INVALID_ARGUMENT, "malformed GetSchemaRequest");
        return;
    }
    if (subject_ok(call, r->subject)) {
        evb_schema_rec *rec = NULL;
        char what[200];
        snprintf(what, sizeof what, "subject %s version %d", r->subject, (int)r->version);
        evb_err rc = r->version < 0 ? EVB_ERR_INVALID
                                    : evb_store_schema_get(svc->store, r->subject, r->version,
                                                           0, &rec);
        reply_schema(call, rc, rec, what);
    }
    evbridge__v1__get_schema_request__free_unpacked(r, NULL);
}

static void get_schema_by_id(evb_rpc_call *call, const uint8_t *req, size_t len, void *arg)
{
    evb_services *svc = arg;
    if (!may_read(svc, call))
        return;
    Evbridge__V1__GetSchemaByIdRequest *r =
        evbridge__v1__get_schema_by_id_request__unpack(NULL, len, req);
    if (r == NULL) {
        evb_rpc_reply_error(call, EVB_RPC_INVALID_ARGUMENT, "malformed GetSchemaByIdRequest");
        return;
    }
    evb_schema_rec *rec = NULL;
    char what[64];
    snprintf(what, sizeof what, "schema id %lld", (long long)r->id);
    evb_err rc = r->id <= 0 ? EVB_ERR_INVALID
                            : evb_store_schema_get_by_id(svc->store, r->id, &rec);
    reply_schema(call, rc, rec, what);
    evbridge__v1__get_schema_by_id_request__free_unpacked(r, NULL);
}

static void list_subjects(evb_rpc_call *call, const uint8_t *req, size_t len, void *arg)
{
    evb_services *svc = arg;
    if (!may_read(svc, call))
        return;
    Evbridge__V1__ListSubjectsRequest *r =
        evbridge__v1__list_subjects_request__unpack(NULL, len, req);
    if (r == NULL) {
        evb_rpc_reply_error(call, EVB_RPC_INVALID_ARGUMENT, "malformed ListSubjectsRequest");
        return;
    }
    char **names = NULL;
    size_t n = 0;
    evb_err rc = evb_store_schema_subjects(svc->store, r->prefix, r->include_deleted, &names, &n);
    if (rc != EVB_OK) {
        evb_svc_reply_err(call, rc, NULL);
    } else {
        Evbridge__V1__ListSubjectsResponse resp = EVBRIDGE__V1__LIST_SUBJECTS_RESPONSE__INIT;
        resp.subjects = names;
        resp.n_subjects = n;
        evb_svc_reply_msg(call, &resp.base);
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    evbridge__v1__list_subjects_request__free_unpacked(r, NULL);
}

static void list_versions(evb_rpc_call *call, const uint8_t *req, size_t len, void *arg)
{
    evb_services *svc = arg;
    if (!may_read(svc, call))
        return;
    Evbridge__V1__ListVersionsRequest *r =
        evbridge__v1__list_versions_request__unpack(NULL, len, req);
    if (r == NULL) {
        evb_rpc_reply_error(call, EVB_RPC_INVALID_ARGUMENT, "malformed ListVersionsRequest");
        return;
    }
    if (subject_ok(call, r->subject)) {
        evb_schema_rec **vs = NULL;
        size_t n = 0;
        evb_err rc = evb_store_schema_list(svc->store, r->subject, r->include_deleted, &vs, &n);
        int32_t *versions = calloc(n ? n : 1, sizeof *versions);
        if (rc == EVB_OK && n == 0) {
            char msg[200];
            snprintf(msg, sizeof msg, "subject %s has no versions", r->subject);
            evb_rpc_reply_error(call, EVB_RPC_NOT_FOUND, msg);
        } else if (rc != EVB_OK || versions == NULL) {
            evb_svc_reply_err(call, rc != EVB_OK ? rc : EVB_ERR_NOMEM, NULL);
        } else {
            for (size_t i = 0; i < n; i++)
                versions[i] = vs[i]->version;
            Evbridge__V1__ListVersionsResponse resp = EVBRIDGE__V1__LIST_VERSIONS_RESPONSE__INIT;
            resp.versions = versions;
            resp.n_versions = n;
            evb_svc_reply_msg(call, &resp.base);
        }
        free(versions);
        evb_schema_rec_array_free(vs, n);
    }
    evbridge__v1__list_versions_request__free_unpacked(r, NULL);
}

/* A (subject, version) that a connector's event type pins, or the last live version of a
 * subject an event type follows as "latest", may not be deleted. Fills why on refusal. */
static int bound_to_connector(evb_services *svc, const char *subject, int32_t version,
                              char *why, size_t whylen)
{
    evb_connector **cs = NULL;
    size_t n = 0;
    if (evb_store_connector_list(svc->store, NULL, &cs, &n) != EVB_OK)
        return snprintf(why, whylen, "cannot read connectors"), 1;
    evb_schema_rec **live = NULL;
    size_t n_live = 0;
    evb_store_schema_list(svc->store, subject, 0, &live, &n_live);
    int bound = 0;
    for (size_t i = 0; i < n && !bound; i++) {
        for (size_t t = 0; t < cs[i]->n_types && !bound; t++) {
            const evb_event_type_def *d = &cs[i]->types[t];
            if (d->subject == NULL || strcmp(d->subject, subject) != 0)
                continue;
            if (d->version != 0)
                bound = version == 0 || d->version == version;
            else
                bound = version == 0 || (n_live == 1 && live[0]->version == version);
            if (bound)
                snprintf(why, whylen,
                         "subject %s version %d is bound to event type %s of connector %s",
                         subject, d->version ? (int)d->version : (int)version, d->type,
                         cs[i]->name);
        }
    }
    evb_schema_rec_array_free(live, n_live);
    evb_connector_array_free(cs, n);
    return bound;
}

static void delete_schema(evb_rpc_call *call, const uint8_t *req, size_t len, void *arg)
{
    evb_services *svc = arg;
    if (!may_write(svc, call))
        return;
    Evbridge__V1__DeleteSchemaRequest *r =
        evbridge__v1__delete_schema_request__unpack(NULL, len, req);
    if (r == NULL) {
        evb_rpc_reply_error(call, EVB_RPC_INVALID_ARGUMENT, "malformed DeleteSchemaRequest");
        return;
    }
    char why[512];
    if (!subject_ok(call, r->subject)) {
        /* replied */
    } else if (r->version < 0) {
        evb_rpc_reply_error(call, EVB_RPC_INVALID_ARGUMENT, "version must be >= 0 (0 = all)");
    } else if (!r->permanent && bound_to_connector(svc, r->subject, r->version, why, sizeof why)) {
        evb_rpc_reply_error(call, EVB_RPC_FAILED_PRECONDITION, why);
    } else {
        int32_t *vs = NULL;
        size_t n = 0;
        evb_err rc = evb_store_schema_delete(svc->store, r->subject, r->version, r->permanent,
                                             &vs, &n);
        evb_schemas_invalidate(svc->schemas, r->subject);
        if (rc != EVB_OK) {
            evb_error e;
            evb_error_set(&e, rc, "version",
                          rc == EVB_ERR_PRECONDITION
                              ? "a permanent delete needs a soft delete first (subject %s)"
                              : "subject %s: nothing to delete",
                          r->subject);
            evb_svc_reply_err(call, rc, &e);
        } else {
            Evbridge__V1__DeleteSchemaResponse resp = EVBRIDGE__V1__DELETE_SCHEMA_RESPONSE__INIT;
            resp.versions = vs;
            resp.n_versions = n;
            evb_svc_reply_msg(call, &resp.base);
        }
        free(vs);
    }
    evbridge__v1__delete_schema_request__free_unpacked(r, NULL);
}

static void check_compat(evb_rpc_call *call, const uint8_t *req, size_t len, void *arg)
{
    evb_services *svc = arg;
    if (!may_read(svc, call))
        return;
    Evbridge__V1__CheckCompatibilityRequest *r =
        evbridge__v1__check_compatibility_request__unpack(NULL, len, req);
    if (r == NULL) {
        evb_rpc_reply_error(call, EVB_RPC_INVALID_ARGUMENT,
                            "malformed CheckCompatibilityRequest");
        return;
    }
    evb_error e;
    evb_error_clear(&e);
    evb_compat_report rep;
    evb_err rc = r->version < 0 ? evb_error_set(&e, EVB_ERR_INVALID, "version",
                                                "version must be >= 0")
                                : evb_schemas_check(svc->schemas, r->subject, r->schema,
                                                    r->version, &rep, &e);
    if (rc != EVB_OK) {
        evb_svc_reply_err(call, rc, &e);
    } else {
        Evbridge__V1__CheckCompatibilityResponse resp =
            EVBRIDGE__V1__CHECK_COMPATIBILITY_RESPONSE__INIT;
        resp.compatible = rep.n == 0;
        resp.messages = rep.messages;
        resp.n_messages = rep.n;
        evb_svc_reply_msg(call, &resp.base);
        evb_compat_report_fini(&rep);
    }
    evbridge__v1__check_compatibility_request__free_unpacked(r, NULL);
}

static int subject_or_global_ok(evb_rpc_call *call, const char *subject)
{
    return subject[0] == '\0' || subject_ok(call, subject);
}

static void get_compat(evb_rpc_call *call, const uint8_t *req, size_t len, void *arg)
{
    evb_services *svc = arg;
    if (!may_read(svc, call))
        return;
    Evbridge__V1__GetCompatibilityRequest *r =
        evbridge__v1__get_compatibility_request__unpack(NULL, len, req);
    if (r == NULL) {
        evb_rpc_reply_error(call, EVB_RPC_INVALID_ARGUMENT, "malformed GetCompatibilityRequest");
        return;
    }
    evb_compat_level level;
    int fmt;
    if (subject_or_global_ok(call, r->subject)) {
        evb_err rc = evb_schemas_config(svc->schemas, r->subject, &level, &fmt);
        if (rc != EVB_OK) {
            evb_svc_reply_err(call, rc, NULL);
        } else {
            Evbridge__V1__GetCompatibilityResponse resp =
                EVBRIDGE__V1__GET_COMPATIBILITY_RESPONSE__INIT;
            resp.level = (Evbridge__V1__CompatibilityLevel)level;
            resp.format_mode = (Evbridge__V1__FormatMode)fmt;
            evb_svc_reply_msg(call, &resp.base);
        }
    }
    evbridge__v1__get_compatibility_request__free_unpacked(r, NULL);
}

static void set_compat(evb_rpc_call *call, const uint8_t *req, size_t len, void *arg)
{
    evb_services *svc = arg;
    if (!may_write(svc, call))
        return;
    Evbridge__V1__SetCompatibilityRequest *r =
        evbridge__v1__set_compatibility_request__unpack(NULL, len, req);
    if (r == NULL) {
        evb_rpc_reply_error(call, EVB_RPC_INVALID_ARGUMENT, "malformed SetCompatibilityRequest");
        return;
    }
    int level = (int)r->level, fmt = (int)r->format_mode;
    if (!subject_or_global_ok(call, r->subject)) {
        /* replied */
    } else if (level < 0 || level > 7 || fmt < 0 || fmt > 2) {
        evb_rpc_reply_error(call, EVB_RPC_INVALID_ARGUMENT, "unknown level or format_mode");
    } else if (level == 0 && fmt == 0 && r->subject[0] == '\0') {
        evb_rpc_reply_error(call, EVB_RPC_INVALID_ARGUMENT,
                            "set level or format_mode (the global level cannot be removed)");
    } else {
        /* UNSPECIFIED level on a subject removes its own level (the global one applies) */
        int set_level = level ? level : (r->subject[0] && fmt == 0 ? -1 : 0);
        evb_err rc = evb_schemas_set_config(svc->schemas, r->subject, set_level, fmt);
        evb_compat_level eff;
        int eff_fmt;
        if (rc == EVB_OK)
            rc = evb_schemas_config(svc->schemas, r->subject, &eff, &eff_fmt);
        if (rc != EVB_OK) {
            evb_svc_reply_err(call, rc, NULL);
        } else {
            Evbridge__V1__SetCompatibilityResponse resp =
                EVBRIDGE__V1__SET_COMPATIBILITY_RESPONSE__INIT;
            resp.level = (Evbridge__V1__CompatibilityLevel)eff;
            resp.format_mode = (Evbridge__V1__FormatMode)eff_fmt;
            evb_svc_reply_msg(call, &resp.base);
        }
    }
    evbridge__v1__set_compatibility_request__free_unpacked(r, NULL);
}

/* Fills violations of a validation result into the arena-built list. */
Evbridge__V1__Violation **evb_svc_violations(evb_arena *a, const evb_schema_result *res,
                                            size_t *n_out)
{
    *n_out = 0;
    Evbridge__V1__Violation **vs = evb_arena_alloc(a, (res->count + 1) * sizeof *vs);
    for (size_t i = 0; vs != NULL && i < res->count; i++) {
        Evbridge__V1__Violation *v = evb_arena_alloc(a, sizeof *v);
        if (v == NULL)
            return NULL;
        *v = (Evbridge__V1__Violation)EVBRIDGE__V1__VIOLATION__INIT;
        v->instance_path = evb_arena_strdup(a, res->violations[i].instance_path);
        v->keyword_location = evb_arena_strdup(a, res->violations[i].keyword_location);
        v->message = evb_arena_strdup(a, res->violations[i].message);
        if (!v->instance_path || !v->keyword_location || !v->message)
            return NULL;
        vs[(*n_out)++] = v;
    }
    return vs;
}

static void validate_payload(evb_rpc_call *call, const uint8_t *req, size_t len, void *arg)
{
    evb_services *svc = arg;
    if (!may_read(svc, call))
        return;
    Evbridge__V1__ValidatePayloadRequest *r =
        evbridge__v1__validate_payload_request__unpack(NULL, len, req);
    if (r == NULL) {
        evb_rpc_reply_error(call, EVB_RPC_INVALID_ARGUMENT, "malformed ValidatePayloadRequest");
        return;
    }
    evb_error e;
    evb_error_clear(&e);
    evb_model *m = NULL;
    evb_schema_result res;
    evb_err rc = !evb_schemas_subject_valid(r->subject)
                     ? evb_error_set(&e, EVB_ERR_INVALID, "subject",
                                     "subject must match [a-z0-9][a-z0-9._-]{0,127}")
                 : r->version < 0
                     ? evb_error_set(&e, EVB_ERR_INVALID, "version", "version must be >= 0")
                     : evb_schemas_model(svc->schemas, r->subject, r->version, &m, &e);
    if (rc == EVB_OK) {
        rc = evb_model_validate(svc->schemas, m, (const char *)r->payload.data, r->payload.len,
                                &res, &e);
        if (rc == EVB_ERR_PARSE || rc == EVB_ERR_LIMIT) { /* not JSON: an invalid payload */
            res.valid = false;
            res.count = 1;
            snprintf(res.violations[0].instance_path, sizeof res.violations[0].instance_path,
                     "%s", "");
            snprintf(res.violations[0].keyword_location,
                     sizeof res.violations[0].keyword_location, "%s", "");
            snprintf(res.violations[0].message, sizeof res.violations[0].message, "%.200s",
                     e.message[0] ? e.message : "payload is not JSON");
            rc = EVB_OK;
        }
    }
    if (rc != EVB_OK) {
        evb_svc_reply_err(call, rc, &e);
    } else {
        evb_arena *a = evb_arena_new();
        Evbridge__V1__ValidatePayloadResponse resp =
            EVBRIDGE__V1__VALIDATE_PAYLOAD_RESPONSE__INIT;
        resp.valid = res.valid;
        resp.violations = a ? evb_svc_violations(a, &res, &resp.n_violations) : NULL;
        if (resp.violations != NULL)
            evb_svc_reply_msg(call, &resp.base);
        else
            evb_rpc_reply_error(call, EVB_RPC_INTERNAL, "out of memory");
        evb_arena_free(a);
    }
    evb_model_release(m);
    evbridge__v1__validate_payload_request__free_unpacked(r, NULL);
}

evb_err evb_svc_registry_register(evb_rpc_server *server, evb_services *svc)
{
    static const evb_svc_method m[] = {
        {"/evbridge.v1.SchemaRegistry/RegisterSchema", register_schema},
        {"/evbridge.v1.SchemaRegistry/GetSchema", get_schema},
        {"/evbridge.v1.SchemaRegistry/GetSchemaById", get_schema_by_id},
        {"/evbridge.v1.SchemaRegistry/ListSubjects", list_subjects},
        {"/evbridge.v1.SchemaRegistry/ListVersions", list_versions},
        {"/evbridge.v1.SchemaRegistry/DeleteSchema", delete_schema},
        {"/evbridge.v1.SchemaRegistry/CheckCompatibility", check_compat},
        {"/evbridge.v1.SchemaRegistry/GetCompatibility", get_compat},
        {"/evbridge.v1.SchemaRegistry/SetCompatibility", set_compat},
        {"/evbridge.v1.SchemaRegistry/ValidatePayload", validate_payload},
    };
    return evb_svc_add_methods(server, svc, m, sizeof m / sizeof m[0]);
}
