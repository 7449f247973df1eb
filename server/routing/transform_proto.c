/* evbridge — the proto JSON form of a Transform (TestTransform) (transform.h).
 *
 * Reads {"mode": ..., "value": ..., "vars": {...}} the way a proto3 JSON parser would —
 * mode as enum name or number, null members as defaults — but strictly: unknown members,
 * duplicate keys, wrong types and NUL characters in strings are errors that name the member.
 * The checks of the transform itself are evb_transform_compile's, so a transform that
 * TestTransform accepts is exactly one that CreateConnection accepts.
 * Spec: https://protobuf.dev/programming-guides/proto3/#json
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/text.h"
#include "server/routing/transform_int.h"

static const struct {
    const char *name;
    evb_transform_mode mode;
} MODES[] = {
    {"TRANSFORM_MODE_UNSPECIFIED", EVB_TRANSFORM_UNSPECIFIED},
    {"ORIGINAL", EVB_TRANSFORM_ORIGINAL},
    {"DATA", EVB_TRANSFORM_DATA},
    {"JSONPATH", EVB_TRANSFORM_JSONPATH},
    {"CONSTANT", EVB_TRANSFORM_CONSTANT},
    {"TEMPLATE", EVB_TRANSFORM_TEMPLATE},
};

static evb_err read_mode(const json_t *m, evb_transform_mode *mode, evb_error *err)
{
    char shown[80];
    if (m == NULL || json_is_null(m)) {
        *mode = EVB_TRANSFORM_UNSPECIFIED;
        return EVB_OK;
    }
    if (json_is_integer(m)) {
        json_int_t v = json_integer_value(m);
        if (v < 0 || v > EVB_TRANSFORM_TEMPLATE)
            return evb_error_set(err, EVB_ERR_INVALID, "transform.mode",
                                 "transform.mode: unknown mode %" JSON_INTEGER_FORMAT, v);
        *mode = (evb_transform_mode)v;
        return EVB_OK;
    }
    if (!json_is_string(m))
        return evb_error_set(err, EVB_ERR_INVALID, "transform.mode",
                             "transform.mode: must be a mode name or number");
    for (size_t i = 0; i < sizeof MODES / sizeof MODES[0]; i++)
        if (strcmp(json_string_value(m), MODES[i].name) == 0 &&
            json_string_length(m) == strlen(MODES[i].name)) {
            *mode = MODES[i].mode;
            return EVB_OK;
        }
    snprintf(shown, sizeof shown, "%.64s", json_string_value(m));
    evb_utf8_sanitize(shown);
    return evb_error_set(err, EVB_ERR_INVALID, "transform.mode",
                         "transform.mode: unknown mode \"%s\" (ORIGINAL, DATA, JSONPATH, "
                         "CONSTANT or TEMPLATE)",
                         shown);
}

/* A string member without NUL characters; NULL and null give "". */
static evb_err read_string(const json_t *v, const char *field, const char **out, evb_error *err)
{
    if (v == NULL || json_is_null(v)) {
        *out = "";
        return EVB_OK;
    }
    if (!json_is_string(v))
        return evb_error_set(err, EVB_ERR_INVALID, field, "%s: must be a string", field);
    if (strlen(json_string_value(v)) != json_string_length(v))
        return evb_error_set(err, EVB_ERR_INVALID, field, "%s: must not contain NUL characters",
                             field);
    *out = json_string_value(v);
    return EVB_OK;
}

static evb_err compile_obj(const json_t *obj, evb_transform **out, evb_error *err)
{
    const char *key;
    size_t klen;
    json_t *v;
    char shown[80], field[128];
    json_object_keylen_foreach((json_t *)obj, key, klen, v)
    {
        if (strcmp(key, "mode") != 0 && strcmp(key, "value") != 0 && strcmp(key, "vars") != 0) {
            snprintf(shown, sizeof shown, "%.64s", key);
            evb_utf8_sanitize(shown);
            return evb_error_set(err, EVB_ERR_INVALID, "transform",
                                 "transform: unknown member \"%s\" (mode, value, vars)", shown);
        }
        (void)klen;
    }
    evb_transform_mode mode = EVB_TRANSFORM_UNSPECIFIED;
    const char *value = "";
    evb_err rc = read_mode(json_object_get(obj, "mode"), &mode, err);
    if (rc == EVB_OK)
        rc = read_string(json_object_get(obj, "value"), "transform.value", &value, err);
    if (rc != EVB_OK)
        return rc;
    const json_t *vars = json_object_get(obj, "vars");
    if (vars != NULL && !json_is_null(vars) && !json_is_object(vars))
        return evb_error_set(err, EVB_ERR_INVALID, "transform.vars",
                             "transform.vars: must be an object of name to JSONPath");
    size_t n = json_is_object(vars) ? json_object_size(vars) : 0;
    const char **names = calloc(n + 1, sizeof *names);
    const char **paths = calloc(n + 1, sizeof *paths);
    if (names == NULL || paths == NULL) {
        rc = evb_error_set(err, EVB_ERR_NOMEM, NULL, "out of memory");
        goto out;
    }
    size_t i = 0;
    json_object_keylen_foreach((json_t *)vars, key, klen, v)
    {
        (void)klen; /* jansson's parser refuses NUL in keys */
        snprintf(field, sizeof field, "transform.vars.%.64s", key);
        evb_utf8_sanitize(field);
        if ((rc = read_string(v, field, &paths[i], err)) != EVB_OK)
            goto out;
        names[i++] = key;
    }
    rc = evb_transform_compile(mode, value, names, paths, n, out, err);
out:
    free(names);
    free(paths);
    return rc;
}

evb_err evb_transform_compile_json(const char *text, size_t len, evb_transform **out,
                                   evb_error *err)
{
    json_error_t je;
    json_t *j =
        text != NULL ? json_loadb(text, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &je) : NULL;
    if (j == NULL) {
        if (text == NULL)
            snprintf(je.text, sizeof je.text, "no text");
        evb_utf8_sanitize(je.text);
        return evb_error_set(err, EVB_ERR_INVALID, "transform", "transform: not valid JSON: %s",
                             je.text);
    }
    evb_err rc = json_is_object(j) ? compile_obj(j, out, err)
                                   : evb_error_set(err, EVB_ERR_INVALID, "transform",
                                                   "transform: must be a JSON object");
    json_decref(j);
    return rc;
}

evb_err evb_transform_test(const char *transform_json, size_t transform_len, const char *event_json,
                           size_t event_len, char **out, size_t *out_len, evb_error *err)
{
    evb_transform *t = NULL;
    evb_err rc = evb_transform_compile_json(transform_json, transform_len, &t, err);
    if (rc != EVB_OK)
        return rc;
    json_error_t je;
    json_t *ev =
        event_json != NULL ? json_loadb(event_json, event_len, JSON_REJECT_DUPLICATES, &je) : NULL;
    if (ev == NULL) {
        if (event_json == NULL)
            snprintf(je.text, sizeof je.text, "no text");
        evb_utf8_sanitize(je.text);
        rc = evb_error_set(err, EVB_ERR_INVALID, "event", "event: not valid JSON: %s", je.text);
    } else if (!json_is_object(ev)) {
        rc = evb_error_set(err, EVB_ERR_INVALID, "event", "event: must be a JSON object");
    } else {
        rc = evb_transform_apply(t, ev, out, out_len, NULL, err);
    }
    json_decref(ev);
    evb_transform_free(t);
    return rc;
}
