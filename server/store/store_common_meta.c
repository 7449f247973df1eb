/* evbridge — metadata records shared by both store backends: row decoders, argument checks
 * of the write entries, and the JSON text of a connector's event types. Contract in
 * store_common_meta.h.
 *
 * A connector's event types are always read and written whole, so they are one JSON text
 * column (jansson; NULL strings are absent members). Decoders read a row through the
 * store_row callbacks, so the SQLite and PostgreSQL backends build identical records from
 * identical column lists; a half-built record is freed with its own _free function, which
 * accepts NULL members.
 */
#include "server/store/store_common_meta.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define LEVEL_MAX 7  /* CompatibilityLevel FULL_TRANSITIVE */
#define FORMAT_MAX 2 /* FormatMode */

/* ---- event types <-> JSON ---- */

static int set_str(json_t *o, const char *k, const char *v)
{
    if (v == NULL)
        return 0;
    json_t *s = json_string(v);
    return s == NULL ? -1 : json_object_set_new(o, k, s);
}

evb_err store_connector_types_encode(const evb_connector *c, char **out)
{
    json_t *a = json_array();
    if (a == NULL)
        return EVB_ERR_NOMEM;
    evb_err e = EVB_OK;
    for (size_t i = 0; i < c->n_types && e == EVB_OK; i++) {
        const evb_event_type_def *t = &c->types[i];
        json_t *o = json_object();
        if (o == NULL || json_array_append_new(a, o) != 0) {
            e = EVB_ERR_NOMEM;
            break;
        }
        if (t->type == NULL || set_str(o, "type", t->type) != 0 ||
            set_str(o, "subject", t->subject) != 0 ||
            json_object_set_new(o, "version", json_integer(t->version)) != 0 ||
            set_str(o, "description", t->description) != 0)
            e = EVB_ERR_INVALID; /* no type name, or text that is not UTF-8 */
    }
    if (e == EVB_OK) {
        *out = json_dumps(a, JSON_COMPACT | JSON_PRESERVE_ORDER);
        if (*out == NULL)
            e = EVB_ERR_NOMEM;
    }
    json_decref(a);
    return e;
}

static char *strdup_ok(const char *src, int *ok)
{
    char *d = strdup(src);
    if (d == NULL)
        *ok = 0;
    return d;
}

static char *get_str(json_t *o, const char *k, int *ok)
{
    json_t *v = json_object_get(o, k);
    if (v == NULL || json_is_null(v))
        return NULL;
    if (!json_is_string(v)) {
        *ok = 0;
        return NULL;
    }
    return strdup_ok(json_string_value(v), ok);
}

static evb_err types_decode(const char *text, evb_connector *c)
{
    json_t *a = text != NULL ? json_loads(text, JSON_REJECT_DUPLICATES, NULL) : NULL;
    if (a == NULL || !json_is_array(a)) {
        json_decref(a);
        return EVB_ERR_INTERNAL; /* the store wrote it: a corrupt row */
    }
    evb_err e = EVB_OK;
    size_t n = json_array_size(a);
    if (n > 0) {
        c->types = calloc(n, sizeof *c->types);
        if (c->types == NULL)
            e = EVB_ERR_NOMEM;
    }
    for (size_t i = 0; i < n && e == EVB_OK; i++) {
        json_t *o = json_array_get(a, i);
        evb_event_type_def *t = &c->types[c->n_types++];
        int ok = json_is_object(o);
        if (ok) {
            t->type = get_str(o, "type", &ok);
            t->subject = get_str(o, "subject", &ok);
            t->description = get_str(o, "description", &ok);
            t->version = (int32_t)json_integer_value(json_object_get(o, "version"));
        }
        if (!ok || t->type == NULL)
            e = EVB_ERR_INTERNAL;
    }
    json_decref(a);
    return e;
}

/* ---- decoders ---- */

evb_err store_connector_from_row(const store_row *r, void *slot)
{
    evb_connector *c = calloc(1, sizeof *c);
    if (c == NULL)
        return EVB_ERR_NOMEM;
    int ok = 1;
    c->name = r->text(r, 0, &ok);
    c->display_name = r->text(r, 1, &ok);
    c->isv = r->text(r, 2, &ok);
    c->source = r->text(r, 3, &ok);
    char *types = r->text(r, 4, &ok);
    c->create_ms = r->i64(r, 5);
    c->update_ms = r->i64(r, 6);
    evb_err e = ok ? types_decode(types, c) : EVB_ERR_NOMEM;
    free(types);
    if (e != EVB_OK) {
        evb_connector_free(c);
        return e;
    }
    *(evb_connector **)slot = c;
    return EVB_OK;
}

evb_err store_key_from_row(const store_row *r, void *slot)
{
    evb_api_key *k = calloc(1, sizeof *k);
    if (k == NULL)
        return EVB_ERR_NOMEM;
    int ok = 1;
    k->key_id = r->text(r, 0, &ok);
    k->hash = r->text(r, 1, &ok);
    k->role = r->text(r, 2, &ok);
    k->scope = r->text(r, 3, &ok);
    k->description = r->text(r, 4, &ok);
    k->create_ms = r->i64(r, 5);
    k->revoke_ms = r->i64(r, 6);
    if (!ok) {
        evb_api_key_free(k);
        return EVB_ERR_NOMEM;
    }
    *(evb_api_key **)slot = k;
    return EVB_OK;
}

evb_err store_action_from_row(const store_row *r, void *slot)
{
    evb_action_rec *a = calloc(1, sizeof *a);
    if (a == NULL)
        return EVB_ERR_NOMEM;
    int ok = 1;
    a->name = r->text(r, 0, &ok);
    a->isv = r->text(r, 1, &ok);
    a->org = r->text(r, 2, &ok);
    a->kind = (int)r->i64(r, 3);
    a->config = r->text(r, 4, &ok);
    a->disabled = r->i64(r, 5) != 0;
    a->disabled_reason = r->text(r, 6, &ok);
    a->create_ms = r->i64(r, 7);
    a->update_ms = r->i64(r, 8);
    if (!ok) {
        evb_action_rec_free(a);
        return EVB_ERR_NOMEM;
    }
    *(evb_action_rec **)slot = a;
    return EVB_OK;
}

evb_err store_connection_from_row(const store_row *r, void *slot)
{
    evb_connection_rec *c = calloc(1, sizeof *c);
    if (c == NULL)
        return EVB_ERR_NOMEM;
    int ok = 1;
    c->id = r->text(r, 0, &ok);
    c->org = r->text(r, 1, &ok);
    c->name = r->text(r, 2, &ok);
    c->connector = r->text(r, 3, &ok);
    c->action = r->text(r, 4, &ok);
    c->config = r->text(r, 5, &ok);
    c->state = (int)r->i64(r, 6);
    c->state_reason = r->text(r, 7, &ok);
    c->create_ms = r->i64(r, 8);
    c->update_ms = r->i64(r, 9);
    if (!ok) {
        evb_connection_rec_free(c);
        return EVB_ERR_NOMEM;
    }
    *(evb_connection_rec **)slot = c;
    return EVB_OK;
}

evb_err store_schema_from_row(const store_row *r, void *slot)
{
    evb_schema_rec *s = calloc(1, sizeof *s);
    if (s == NULL)
        return EVB_ERR_NOMEM;
    int ok = 1;
    s->id = r->i64(r, 0);
    s->subject = r->text(r, 1, &ok);
    s->version = (int32_t)r->i64(r, 2);
    s->schema = r->text(r, 3, &ok);
    s->canon_hash = r->text(r, 4, &ok);
    s->deleted = r->i64(r, 5) != 0;
    s->create_ms = r->i64(r, 6);
    if (!ok) {
        evb_schema_rec_free(s);
        return EVB_ERR_NOMEM;
    }
    *(evb_schema_rec **)slot = s;
    return EVB_OK;
}

evb_err store_string_from_row(const store_row *r, void *slot)
{
    int ok = 1;
    char *text = r->text(r, 0, &ok);
    if (!ok || text == NULL)
        return ok ? EVB_ERR_INTERNAL : EVB_ERR_NOMEM;
    *(char **)slot = text;
    return EVB_OK;
}

void store_strv_free(char **v, size_t n)
{
    if (v == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

/* ---- argument checks ---- */

int store_connector_ok(const evb_connector *c)
{
    return c != NULL && c->name != NULL && (c->n_types == 0 || c->types != NULL);
}

int store_key_ok(const evb_api_key *k)
{
    return k != NULL && k->key_id != NULL && k->hash != NULL && k->role != NULL;
}

int store_connection_state_ok(int state)
{
    return state >= STORE_CONN_ENABLED && state <= STORE_CONN_DISABLED;
}

int store_connection_ok(const evb_connection_rec *c)
{
    return c != NULL && c->id != NULL && c->org != NULL && c->name != NULL &&
           c->connector != NULL && c->action != NULL && store_connection_state_ok(c->state);
}

int store_schema_register_ok(const char *subject, const char *schema, const char *canon_hash)
{
    return subject != NULL && subject[0] != '\0' && schema != NULL && canon_hash != NULL &&
           canon_hash[0] != '\0';
}

int store_subject_config_ok(int level, int format_mode)
{
    return level >= -1 && level <= LEVEL_MAX && format_mode >= -1 && format_mode <= FORMAT_MAX;
}
