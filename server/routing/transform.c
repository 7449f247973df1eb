/* evbridge — transforms: compile and apply (transform.h).
 *
 * Compilation does every check (mode, limits, UTF-8, JSONPath syntax, template placeholders
 * and variables, JSON-ness of constants and templates), so applying is a walk over borrowed
 * jansson values that can fail only on the output cap or memory. The output is built in an
 * evb_buf capped at EVB_TRANSFORM_MAX_OUTPUT, so a huge event stops early instead of being
 * serialised whole. TEMPLATE lives in transform_template.c, serialisation in
 * transform_emit.c, the proto JSON form in transform_proto.c.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/crypto.h"
#include "common/text.h"
#include "server/routing/transform_int.h"

static const char *const mode_names[] = {"ORIGINAL", "ORIGINAL", "DATA",
                                         "JSONPATH", "CONSTANT", "TEMPLATE"};

static int var_name_valid(const char *s)
{
    return s != NULL && !(s[0] >= '0' && s[0] <= '9') &&
           evb_str_matches(s, "A-Za-z0-9_", 1, EVB_TRANSFORM_MAX_VAR_NAME);
}

/* A copy of s safe to echo in a message: at most 64 bytes, controls and bad UTF-8 as '?'. */
static void echo(char *dst, size_t size, const char *s)
{
    snprintf(dst, size, "%.64s", s != NULL ? s : "");
    evb_utf8_sanitize(dst);
}

/* Checks a user string: UTF-8 and at most EVB_TRANSFORM_MAX_VALUE code points. */
static evb_err check_text(const char *s, const char *field, evb_error *err)
{
    size_t n = strlen(s);
    if (!evb_utf8_valid(s, n))
        return evb_error_set(err, EVB_ERR_INVALID, field, "%s: not valid UTF-8", field);
    size_t chars = evb_utf8_len(s, n);
    if (chars > EVB_TRANSFORM_MAX_VALUE)
        return evb_error_set(err, EVB_ERR_INVALID, field,
                             "%s: %zu characters, over the limit of %d", field, chars,
                             EVB_TRANSFORM_MAX_VALUE);
    return EVB_OK;
}

/* Compiles a JSONPath and names field in the error. */
static evb_err compile_path(const char *s, const char *field, evb_jsonpath **out, evb_error *err)
{
    evb_err rc = check_text(s, field, err);
    if (rc != EVB_OK)
        return rc;
    evb_error perr;
    evb_error_clear(&perr);
    rc = evb_jsonpath_compile(s, strlen(s), out, &perr);
    if (rc != EVB_OK)
        return evb_error_set(err, rc, field, "%s: %s", field, perr.message);
    return EVB_OK;
}

static evb_err compile_vars(evb_transform *t, const char *const *names, const char *const *paths,
                            size_t n, evb_error *err)
{
    char shown[80];
    if (n > EVB_TRANSFORM_MAX_VARS)
        return evb_error_set(err, EVB_ERR_INVALID, "transform.vars",
                             "transform.vars: %zu variables, over the limit of %d", n,
                             EVB_TRANSFORM_MAX_VARS);
    if (n > 0 && (names == NULL || paths == NULL))
        return evb_error_set(err, EVB_ERR_INVALID, "transform.vars",
                             "transform.vars: names and paths are required");
    t->vars = calloc(n ? n : 1, sizeof *t->vars);
    if (t->vars == NULL)
        return evb_error_set(err, EVB_ERR_NOMEM, NULL, "out of memory");
    for (size_t i = 0; i < n; i++) {
        if (!var_name_valid(names[i])) {
            echo(shown, sizeof shown, names[i]);
            return evb_error_set(err, EVB_ERR_INVALID, "transform.vars",
                                 "transform.vars: variable name \"%s\" is invalid (1 to %d "
                                 "of A-Z a-z 0-9 _, not starting with a digit)",
                                 shown, EVB_TRANSFORM_MAX_VAR_NAME);
        }
        char field[128];
        snprintf(field, sizeof field, "transform.vars.%s", names[i]);
        for (size_t k = 0; k < i; k++)
            if (strcmp(t->vars[k].name, names[i]) == 0)
                return evb_error_set(err, EVB_ERR_INVALID, field, "%s: defined twice", field);
        if (paths[i] == NULL)
            return evb_error_set(err, EVB_ERR_INVALID, field, "%s: JSONPath is required", field);
        t->vars[i].name = evb_strdup(names[i]);
        if (t->vars[i].name == NULL)
            return evb_error_set(err, EVB_ERR_NOMEM, NULL, "out of memory");
        t->n_vars = i + 1;
        evb_err rc = compile_path(paths[i], field, &t->vars[i].path, err);
        if (rc != EVB_OK)
            return rc;
    }
    return EVB_OK;
}

static evb_err compile_constant(evb_transform *t, evb_error *err)
{
    char why[200];
    if (tr_starts_like_json(t->value, t->value_len)) {
        if (!tr_is_json(t->value, t->value_len, 0, why, sizeof why)) {
            evb_utf8_sanitize(why);
            return evb_error_set(err, EVB_ERR_INVALID, "transform.value",
                                 "transform.value: the constant starts like JSON but is not "
                                 "valid JSON: %s",
                                 why);
        }
        t->is_json = 1;
        return EVB_OK;
    }
    t->is_json = tr_is_json(t->value, t->value_len, 0, NULL, 0);
    return EVB_OK;
}

static evb_err compile_mode(evb_transform *t, const char *const *names, const char *const *paths,
                            size_t n_vars, evb_error *err)
{
    evb_err rc;
    switch (t->mode) {
    case EVB_TRANSFORM_JSONPATH:
        return compile_path(t->value, "transform.value", &t->path, err);
    case EVB_TRANSFORM_CONSTANT:
        return compile_constant(t, err);
    case EVB_TRANSFORM_TEMPLATE:
        if (t->value_len == 0)
            return evb_error_set(err, EVB_ERR_INVALID, "transform.value",
                                 "transform.value: the template is empty");
        if ((rc = compile_vars(t, names, paths, n_vars, err)) != EVB_OK)
            return rc;
        if ((rc = tr_template_compile(t, err)) != EVB_OK)
            return rc;
        for (size_t i = 0; i < t->n_vars; i++)
            if (!t->vars[i].used) {
                char field[128];
                snprintf(field, sizeof field, "transform.vars.%s", t->vars[i].name);
                return evb_error_set(err, EVB_ERR_INVALID, field,
                                     "%s: not used in the template (write ${%s})", field,
                                     t->vars[i].name);
            }
        return EVB_OK;
    default:
        return EVB_OK;
    }
}

evb_err evb_transform_compile(evb_transform_mode mode, const char *value,
                              const char *const *var_names, const char *const *var_paths,
                              size_t n_vars, evb_transform **out, evb_error *err)
{
    if ((int)mode == 0)
        mode = EVB_TRANSFORM_ORIGINAL;
    if ((int)mode < 1 || (int)mode > 5)
        return evb_error_set(err, EVB_ERR_INVALID, "transform.mode",
                             "transform.mode: unknown mode %d", (int)mode);
    if (value == NULL)
        value = "";
    evb_err rc = check_text(value, "transform.value", err);
    if (rc != EVB_OK)
        return rc;
    if ((mode == EVB_TRANSFORM_ORIGINAL || mode == EVB_TRANSFORM_DATA) && value[0] != '\0')
        return evb_error_set(err, EVB_ERR_INVALID, "transform.value",
                             "transform.value: must be empty with mode %s", mode_names[mode]);
    if (mode == EVB_TRANSFORM_JSONPATH && value[0] == '\0')
        return evb_error_set(err, EVB_ERR_INVALID, "transform.value",
                             "transform.value: a JSONPath is required with mode JSONPATH "
                             "(\"$\" is the whole event)");
    if (n_vars > 0 && mode != EVB_TRANSFORM_TEMPLATE)
        return evb_error_set(err, EVB_ERR_INVALID, "transform.vars",
                             "transform.vars: variables are used only with mode TEMPLATE, "
                             "not %s",
                             mode_names[mode]);
    evb_transform *t = calloc(1, sizeof *t);
    if (t == NULL || (t->value = evb_strdup(value)) == NULL) {
        free(t);
        return evb_error_set(err, EVB_ERR_NOMEM, NULL, "out of memory");
    }
    t->mode = mode;
    t->value_len = strlen(value);
    rc = compile_mode(t, var_names, var_paths, n_vars, err);
    if (rc != EVB_OK) {
        evb_transform_free(t);
        return rc;
    }
    *out = t;
    return EVB_OK;
}

void evb_transform_free(evb_transform *t)
{
    if (t == NULL)
        return;
    for (size_t i = 0; i < t->n_vars; i++) {
        free(t->vars[i].name);
        evb_jsonpath_free(t->vars[i].path);
    }
    free(t->vars);
    free(t->parts);
    free(t->lits);
    evb_jsonpath_free(t->path);
    free(t->value);
    free(t);
}

evb_transform_mode evb_transform_get_mode(const evb_transform *t)
{
    return t->mode;
}

/* JSON media types as the CloudEvents JSON format reads them: application/json or any
 * "+json" suffix, parameters ignored, case-insensitive. */
static int media_type_is_json(const char *ct)
{
    size_t n = strcspn(ct, ";");
    while (n > 0 && (ct[n - 1] == ' ' || ct[n - 1] == '\t'))
        n--;
    while (n > 0 && (*ct == ' ' || *ct == '\t'))
        ct++, n--;
    return (n == 16 && strncasecmp(ct, "application/json", 16) == 0) ||
           (n > 5 && strncasecmp(ct + n - 5, "+json", 5) == 0);
}

static evb_err apply_data(const json_t *event, evb_buf *b, const char **type)
{
    const json_t *dct = json_object_get(event, "datacontenttype");
    const char *ctype = json_is_string(dct) ? json_string_value(dct) : NULL;
    const json_t *data = json_object_get(event, "data");
    const json_t *b64 = json_object_get(event, "data_base64");
    if (data != NULL && !json_is_null(data)) {
        if (json_is_string(data) && ctype != NULL && !media_type_is_json(ctype)) {
            *type = ctype;
            return evb_buf_append(b, json_string_value(data), json_string_length(data));
        }
        return tr_emit_json(b, data);
    }
    if (!json_is_string(b64))
        return tr_emit_json(b, NULL);
    size_t len = json_string_length(b64);
    if (len / 4 * 3 > EVB_TRANSFORM_MAX_OUTPUT + 3)
        return EVB_ERR_TOO_LARGE;
    uint8_t *bytes = malloc(len / 4 * 3 + 1);
    if (bytes == NULL)
        return EVB_ERR_NOMEM;
    size_t n = 0;
    evb_err rc = evb_base64_decode(json_string_value(b64), len, bytes, &n);
    if (rc == EVB_OK)
        rc = evb_buf_append(b, bytes, n);
    else if (rc != EVB_ERR_NOMEM)
        rc = EVB_ERR_PARSE;
    free(bytes);
    *type = ctype != NULL ? ctype : "application/octet-stream";
    return rc;
}

evb_err evb_transform_apply(const evb_transform *t, const json_t *event, char **out,
                            size_t *out_len, const char **content_type, evb_error *err)
{
    if (!json_is_object(event))
        return evb_error_set(err, EVB_ERR_INVALID, "event", "event: must be a JSON object");
    evb_buf b;
    evb_buf_init(&b, EVB_TRANSFORM_MAX_OUTPUT);
    const char *type = EVB_TRANSFORM_CT_JSON;
    evb_err rc;
    switch (t->mode) {
    case EVB_TRANSFORM_DATA:
        rc = apply_data(event, &b, &type);
        break;
    case EVB_TRANSFORM_JSONPATH:
        rc = tr_emit_json(&b, evb_jsonpath_eval(t->path, event));
        break;
    case EVB_TRANSFORM_CONSTANT:
        rc = evb_buf_append(&b, t->value, t->value_len);
        type = t->is_json ? EVB_TRANSFORM_CT_JSON : EVB_TRANSFORM_CT_TEXT;
        break;
    case EVB_TRANSFORM_TEMPLATE:
        rc = tr_template_render(t, event, &b);
        type = t->is_json ? EVB_TRANSFORM_CT_JSON : EVB_TRANSFORM_CT_TEXT;
        break;
    default:
        rc = tr_emit_json(&b, event);
        type = EVB_TRANSFORM_CT_CLOUDEVENT;
        break;
    }
    if (rc == EVB_OK)
        rc = evb_buf_detach(&b, out, out_len);
    evb_buf_fini(&b);
    switch (rc) {
    case EVB_OK:
        if (content_type != NULL)
            *content_type = type;
        return EVB_OK;
    case EVB_ERR_TOO_LARGE:
        return evb_error_set(err, rc, "output", "the transformed output exceeds %u bytes",
                             EVB_TRANSFORM_MAX_OUTPUT);
    case EVB_ERR_PARSE:
        return evb_error_set(err, EVB_ERR_INVALID, "event.data_base64",
                             "event.data_base64: not valid base64");
    case EVB_ERR_INVALID:
        return evb_error_set(err, rc, "event", "event: nested deeper than %d levels", TR_MAX_DEPTH);
    default:
        return evb_error_set(err, rc, NULL, "%s", evb_strerror(rc));
    }
}
