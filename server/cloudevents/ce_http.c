/* evbridge — CloudEvents HTTP binary-mode headers (ce_http.h).
 *
 * Pure string work: the header list is produced for the delivery code to hand to libcurl,
 * never written to a socket here. Values are percent-encoded per the binding (§3.1.3.2), so
 * a header can never carry CR, LF or other bytes that would split or smuggle headers;
 * Content-Type is the only value sent verbatim and is checked for that reason.
 * Spec:
 * https://github.com/cloudevents/spec/blob/v1.0.2/cloudevents/bindings/http-protocol-binding.md#3132-http-header-values
 */
#include "server/cloudevents/ce_http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/text.h"
#include "server/cloudevents/ce_rules.h"

char *evb_ce_http_value_encode(const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    if (s == NULL || n > (SIZE_MAX - 1) / 3)
        return NULL;
    char *out = malloc(3 * n + 1);
    if (out == NULL)
        return NULL;
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x21 && c <= 0x7E && c != '"' && c != '%') {
            out[j++] = (char)c;
        } else {
            out[j++] = '%';
            out[j++] = hex[c >> 4];
            out[j++] = hex[c & 0xF];
        }
    }
    out[j] = '\0';
    return out;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

evb_err evb_ce_http_value_decode(const char *s, size_t n, char **out)
{
    if (s == NULL)
        return EVB_ERR_PARSE;
    char *r = malloc(n + 1);
    if (r == NULL)
        return EVB_ERR_NOMEM;
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '%') {
            r[j++] = s[i];
            continue;
        }
        int hi = i + 2 < n ? hexval(s[i + 1]) : -1;
        int lo = hi >= 0 ? hexval(s[i + 2]) : -1;
        if (lo < 0) {
            free(r);
            return EVB_ERR_PARSE;
        }
        r[j++] = (char)(hi << 4 | lo);
        i += 2;
    }
    r[j] = '\0';
    if (memchr(r, '\0', j) != NULL || !evb_utf8_valid(r, j)) {
        free(r);
        return EVB_ERR_PARSE;
    }
    *out = r;
    return EVB_OK;
}

void evb_ce_http_headers_free(evb_ce_header *h, size_t n)
{
    if (h == NULL)
        return;
    for (size_t i = 0; i < n; i++) {
        free(h[i].name);
        free(h[i].value);
    }
    free(h);
}

/* Appends ("ce-" name, encoded value) to h unless value is NULL. */
static evb_err add_ce(evb_ce_header *h, size_t *n, const char *name, const char *value)
{
    if (value == NULL)
        return EVB_OK;
    size_t nl = strlen(name);
    char *hn = malloc(nl + 4);
    char *hv = evb_ce_http_value_encode(value, strlen(value));
    if (hn == NULL || hv == NULL) {
        free(hn);
        free(hv);
        return EVB_ERR_NOMEM;
    }
    memcpy(hn, "ce-", 3);
    memcpy(hn + 3, name, nl + 1);
    h[*n].name = hn;
    h[*n].value = hv;
    (*n)++;
    return EVB_OK;
}

evb_err evb_ce_http_binary_headers(const evb_event *ev, evb_ce_header **out, size_t *n_out)
{
    if (ev == NULL || ev->id == NULL || ev->source == NULL || ev->type == NULL)
        return EVB_ERR_INVALID;
    for (size_t i = 0; i < ev->n_ext; i++)
        if (!evb_ce_name_valid(ev->ext[i].name) || ev->ext[i].value == NULL)
            return EVB_ERR_INVALID;
    if (ev->datacontenttype != NULL) {
        for (const unsigned char *p = (const unsigned char *)ev->datacontenttype; *p; p++)
            if (*p < 0x20 || *p > 0x7E)
                return EVB_ERR_INVALID;
    }
    evb_ce_header *h = calloc(10 + ev->n_ext, sizeof *h);
    if (h == NULL)
        return EVB_ERR_NOMEM;
    size_t n = 0;
    evb_err rc = add_ce(h, &n, "specversion", EVB_CE_SPECVERSION);
    if (rc == EVB_OK)
        rc = add_ce(h, &n, "id", ev->id);
    if (rc == EVB_OK)
        rc = add_ce(h, &n, "source", ev->source);
    if (rc == EVB_OK)
        rc = add_ce(h, &n, "type", ev->type);
    if (rc == EVB_OK)
        rc = add_ce(h, &n, "subject", ev->subject);
    if (rc == EVB_OK)
        rc = add_ce(h, &n, "time", ev->time);
    if (rc == EVB_OK)
        rc = add_ce(h, &n, "dataschema", ev->dataschema);
    if (rc == EVB_OK)
        rc = add_ce(h, &n, "orgid", ev->org);
    if (rc == EVB_OK)
        rc = add_ce(h, &n, "connector", ev->connector);
    for (size_t i = 0; rc == EVB_OK && i < ev->n_ext; i++)
        rc = add_ce(h, &n, ev->ext[i].name, ev->ext[i].value);
    if (rc == EVB_OK && ev->datacontenttype != NULL) {
        h[n].name = evb_strdup("Content-Type");
        h[n].value = evb_strdup(ev->datacontenttype);
        n++;
        if (h[n - 1].name == NULL || h[n - 1].value == NULL)
            rc = EVB_ERR_NOMEM;
    }
    if (rc != EVB_OK) {
        evb_ce_http_headers_free(h, n);
        return rc;
    }
    *out = h;
    *n_out = n;
    return EVB_OK;
}
