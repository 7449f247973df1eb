/* evbridge fuzz target — connection transforms: compile and apply
 * (server/routing/transform.h, and through it the JSONPath subset of jsonpath.h).
 *
 * Input: <selector byte><transform> "\n%%\n" <event JSON> "\n%%\n" <vars>
 * Selector bit 0 set: <transform> is the proto JSON form for evb_transform_compile_json,
 * and the whole input also goes through evb_transform_test (TestTransform).
 * Bit 0 clear: <transform> is the value for evb_transform_compile with mode
 * (selector >> 1) % 9 - 1 (-1..7: out-of-range modes too, as the RPC layer passes the proto
 * enum through), and <vars> holds "name=path" lines. Strings are passed as the RPC layer
 * gets them from protobuf-c: any bytes up to the first NUL.
 * A compiled transform is applied to the event (parsed by jansson, duplicate keys rejected).
 * Checks: no crash, no sanitizer report, the output contract (NUL-terminated, within
 * EVB_TRANSFORM_MAX_OUTPUT, a content type).
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "server/routing/transform.h"
#include "tests/fuzz/fuzz_util.h"

#define MAX_VARS 128

/* ct may be "" only when it is the event's own datacontenttype (DATA mode, non-JSON
 * payload): the contract passes that string through, and an event from the store never has
 * an empty one (evb_ce_event_check refuses it); a raw test event may (finding T1). */
static void check_output(evb_err rc, char *out, size_t out_len, const char *ct, int empty_ct_ok)
{
    if (rc != EVB_OK) {
        if (out != NULL)
            abort(); /* nothing is handed out on failure */
        return;
    }
    if (out == NULL || out[out_len] != '\0' || out_len > EVB_TRANSFORM_MAX_OUTPUT)
        abort();
    if (ct != NULL && ct[0] == '\0' && !empty_ct_ok)
        abort();
    free(out);
}

static void apply(const evb_transform *t, const json_t *ev)
{
    if (t == NULL || ev == NULL)
        return;
    char *out = NULL;
    size_t out_len = 0;
    const char *ct = NULL;
    evb_error err;
    evb_err rc = evb_transform_apply(t, ev, &out, &out_len, &ct, &err);
    const char *dct = json_string_value(json_object_get(ev, "datacontenttype"));
    check_output(rc, out, out_len, ct, dct != NULL && dct[0] == '\0');
    if (rc == EVB_OK && ct == NULL)
        abort();
}

/* Cuts "name=path" lines out of vars (in place). */
static size_t parse_vars(char *vars, const char **names, const char **paths)
{
    size_t n = 0;
    char *line = vars;
    while (line != NULL && *line != '\0' && n < MAX_VARS) {
        char *nl = strchr(line, '\n');
        if (nl != NULL)
            *nl = '\0';
        char *eq = strchr(line, '=');
        if (eq != NULL) {
            *eq = '\0';
            names[n] = line;
            paths[n] = eq + 1;
        } else {
            names[n] = line;
            paths[n] = "";
        }
        n++;
        line = nl != NULL ? nl + 1 : NULL;
    }
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t sel = fuzz_take_byte(&data, &size);
    fuzz_part p[3];
    fuzz_split(data, size, p, 3);

    json_error_t jerr;
    json_t *ev = json_loadb(p[1].s, p[1].n, JSON_REJECT_DUPLICATES, &jerr);
    evb_transform *t = NULL;
    evb_error err;
    if (sel & 1u) {
        if (evb_transform_compile_json(p[0].s, p[0].n, &t, &err) == EVB_OK)
            apply(t, ev);
        char *out = NULL;
        size_t out_len = 0;
        evb_err rc = evb_transform_test(p[0].s, p[0].n, p[1].s, p[1].n, &out, &out_len, &err);
        check_output(rc, out, out_len, "x", 0);
    } else {
        const char *names[MAX_VARS], *paths[MAX_VARS];
        size_t n_vars = parse_vars(p[2].s, names, paths);
        int mode = (int)((sel >> 1) % 9u) - 1;
        if (evb_transform_compile((evb_transform_mode)mode, p[0].s, n_vars ? names : NULL,
                                  n_vars ? paths : NULL, n_vars, &t, &err) == EVB_OK) {
            evb_transform_mode got = evb_transform_get_mode(t);
            if (got < EVB_TRANSFORM_ORIGINAL || got > EVB_TRANSFORM_TEMPLATE)
                abort();
            apply(t, ev);
        }
    }
    evb_transform_free(t);
    json_decref(ev);
    fuzz_parts_free(p, 3);
    return 0;
}
