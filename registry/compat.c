/* evbridge registry — compatibility levels and the public checks (see compat.h).
 *
 * A level is a choice of directions (backward: new reads old; forward: old reads new) and of
 * versions (the latest previous one, or all of them). Each (direction, version) pair is one
 * walk over the two documents (compat_walk.c); messages are prefixed with the version and
 * collected, deduplicated, into one report.
 */
#include "registry/compat.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "registry/compat_int.h"

#define DEFAULT_MAX_MESSAGES 256
#define STEP_BUDGET 200000

static const char *const LEVELS[] = {
    [EVB_COMPAT_NONE] = "NONE",
    [EVB_COMPAT_BACKWARD] = "BACKWARD",
    [EVB_COMPAT_BACKWARD_TRANSITIVE] = "BACKWARD_TRANSITIVE",
    [EVB_COMPAT_FORWARD] = "FORWARD",
    [EVB_COMPAT_FORWARD_TRANSITIVE] = "FORWARD_TRANSITIVE",
    [EVB_COMPAT_FULL] = "FULL",
    [EVB_COMPAT_FULL_TRANSITIVE] = "FULL_TRANSITIVE",
};

const char *evb_compat_level_name(evb_compat_level level)
{
    if ((int)level < EVB_COMPAT_NONE || (int)level > EVB_COMPAT_FULL_TRANSITIVE)
        return NULL;
    return LEVELS[level];
}

evb_err evb_compat_level_parse(const char *name, evb_compat_level *out)
{
    if (name == NULL || out == NULL)
        return EVB_ERR_INVALID;
    for (int l = EVB_COMPAT_NONE; l <= EVB_COMPAT_FULL_TRANSITIVE; l++) {
        const char *a = LEVELS[l], *b = name;
        while (*a != '\0' && *b != '\0' &&
               (toupper((unsigned char)*b) == *a || (*b == '-' && *a == '_'))) {
            a++;
            b++;
        }
        if (*a == '\0' && *b == '\0') {
            *out = (evb_compat_level)l;
            return EVB_OK;
        }
    }
    return EVB_ERR_INVALID;
}

void evb_compat_report_init(evb_compat_report *rep)
{
    if (rep != NULL)
        memset(rep, 0, sizeof *rep);
}

void evb_compat_report_fini(evb_compat_report *rep)
{
    if (rep == NULL)
        return;
    for (size_t i = 0; i < rep->n; i++)
        free(rep->messages[i]);
    free(rep->messages);
    memset(rep, 0, sizeof *rep);
}

static bool is_schema(const json_t *s)
{
    return json_is_object(s) || json_is_boolean(s);
}

/* Does the document's dialect apply keywords next to $ref (2019-09 and later)? */
static bool ref_siblings_apply(const json_t *doc)
{
    const json_t *d = json_is_object(doc) ? json_object_get(doc, "$schema") : NULL;
    const char *s = json_string_value(d);
    return s != NULL && (strstr(s, "/draft/2020-12/") != NULL || strstr(s, "/draft/2019-09/"));
}

/* One walk: may reader read what writer wrote? Appends to rep. */
static evb_err run_pair(const json_t *reader, const json_t *writer, bool reader_is_new,
                        const evb_compat_options *opt, const char *prefix, evb_compat_report *rep)
{
    cmp_ctx c;
    memset(&c, 0, sizeof c);
    c.rdoc = reader;
    c.wdoc = writer;
    c.fwd = !reader_is_new;
    c.w_ref_siblings = ref_siblings_apply(writer);
    c.flags = opt != NULL ? opt->flags : 0;
    c.max_messages =
        opt != NULL && opt->max_messages > 0 ? opt->max_messages : DEFAULT_MAX_MESSAGES;
    c.prefix = prefix;
    c.rep = rep;
    c.budget = STEP_BUDGET;
    c.empty = json_object();
    c.string_schema = json_pack("{s:s}", "type", "string");
    if (c.empty == NULL || c.string_schema == NULL || cmp_path_push(&c, "") != 0 ||
        c.err != EVB_OK) {
        c.err = EVB_ERR_NOMEM;
    } else {
        cmp_path_pop(&c, 0);
        cmp_schema(&c, reader, writer);
    }
    json_decref(c.empty);
    json_decref(c.string_schema);
    free(c.path);
    free(c.stack);
    return c.err;
}

evb_err evb_compat_check_pair_json(const json_t *reader, const json_t *writer, bool reader_is_new,
                                   const evb_compat_options *opt, evb_compat_report *rep,
                                   evb_error *err)
{
    evb_compat_report_init(rep);
    if (rep == NULL)
        return evb_error_set(err, EVB_ERR_INVALID, "", "report is required");
    if (!is_schema(reader))
        return evb_error_set(err, EVB_ERR_INVALID, "reader", "the reader is not a schema");
    if (!is_schema(writer))
        return evb_error_set(err, EVB_ERR_INVALID, "writer", "the writer is not a schema");
    evb_err rc = run_pair(reader, writer, reader_is_new, opt, "", rep);
    if (rc != EVB_OK) {
        evb_compat_report_fini(rep);
        return evb_error_set(err, rc, "", "compatibility check failed: %s", evb_strerror(rc));
    }
    return EVB_OK;
}

static evb_err parse(const char *text, const char *what, json_t **out, evb_error *err)
{
    *out = NULL;
    if (text == NULL)
        return evb_error_set(err, EVB_ERR_INVALID, what, "%s: schema is required", what);
    json_error_t je;
    json_t *j = json_loads(text, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
    if (j == NULL)
        return evb_error_set(err, EVB_ERR_PARSE, what, "%s: invalid JSON at line %d, column %d: %s",
                             what, je.line, je.column, je.text);
    if (!is_schema(j)) {
        json_decref(j);
        return evb_error_set(err, EVB_ERR_INVALID, what,
                             "%s: a schema must be an object or a boolean", what);
    }
    *out = j;
    return EVB_OK;
}

evb_err evb_compat_check_pair(const char *reader_schema_json, const char *writer_schema_json,
                              evb_compat_report *rep, evb_error *err)
{
    evb_compat_report_init(rep);
    json_t *r = NULL, *w = NULL;
    evb_err rc = parse(reader_schema_json, "reader", &r, err);
    if (rc == EVB_OK)
        rc = parse(writer_schema_json, "writer", &w, err);
    if (rc == EVB_OK)
        rc = evb_compat_check_pair_json(r, w, true, NULL, rep, err);
    json_decref(r);
    json_decref(w);
    return rc;
}

evb_err evb_compat_check_ex(evb_compat_level level, const char *new_schema,
                            const char *const *previous, const int *versions, size_t n_previous,
                            const evb_compat_options *opt, evb_compat_report *rep, evb_error *err)
{
    evb_compat_report_init(rep);
    if (rep == NULL)
        return evb_error_set(err, EVB_ERR_INVALID, "", "report is required");
    if (evb_compat_level_name(level) == NULL)
        return evb_error_set(err, EVB_ERR_INVALID, "level", "unknown compatibility level %d",
                             (int)level);
    if (n_previous > 0 && previous == NULL)
        return evb_error_set(err, EVB_ERR_INVALID, "previous", "previous versions are missing");
    bool back = level == EVB_COMPAT_BACKWARD || level == EVB_COMPAT_BACKWARD_TRANSITIVE ||
                level == EVB_COMPAT_FULL || level == EVB_COMPAT_FULL_TRANSITIVE;
    bool fwd = level == EVB_COMPAT_FORWARD || level == EVB_COMPAT_FORWARD_TRANSITIVE ||
               level == EVB_COMPAT_FULL || level == EVB_COMPAT_FULL_TRANSITIVE;
    bool all = level == EVB_COMPAT_BACKWARD_TRANSITIVE || level == EVB_COMPAT_FORWARD_TRANSITIVE ||
               level == EVB_COMPAT_FULL_TRANSITIVE;
    json_t *nw = NULL;
    evb_err rc = parse(new_schema, "new", &nw, err);
    if (rc != EVB_OK || level == EVB_COMPAT_NONE || n_previous == 0)
        goto out;
    for (size_t i = all ? 0 : n_previous - 1; i < n_previous && rc == EVB_OK; i++) {
        int version = versions != NULL ? versions[i] : (int)(i + 1);
        char what[48], prefix[64];
        snprintf(what, sizeof what, "version %d", version);
        snprintf(prefix, sizeof prefix, "against version %d: ", version);
        json_t *old = NULL;
        rc = parse(previous[i], what, &old, err);
        if (rc == EVB_OK && back)
            rc = run_pair(nw, old, true, opt, prefix, rep);
        if (rc == EVB_OK && fwd)
            rc = run_pair(old, nw, false, opt, prefix, rep);
        json_decref(old);
        if (rc != EVB_OK && rc != EVB_ERR_PARSE && rc != EVB_ERR_INVALID)
            evb_error_set(err, rc, what, "compatibility check failed: %s", evb_strerror(rc));
    }
out:
    json_decref(nw);
    if (rc != EVB_OK)
        evb_compat_report_fini(rep);
    return rc;
}

evb_err evb_compat_check(evb_compat_level level, const char *new_schema,
                         const char *const *previous, size_t n_previous, evb_compat_report *rep,
                         evb_error *err)
{
    return evb_compat_check_ex(level, new_schema, previous, NULL, n_previous, NULL, rep, err);
}
