/* evbridge — libcurl transfer of one delivery attempt. See xfer.h. */
#include "server/delivery/xfer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/timeutil.h"

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
    xfer *x = arg;
    size_t len = size * n;
    size_t room = EVB_XFER_RESPONSE_CAP - x->response.len;
    evb_buf_append(&x->response, p, len < room ? len : room); /* the rest is discarded */
    return len;
}

static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
    xfer *x = arg;
    size_t len = size * n;
    if (len > 12 && strncasecmp(p, "retry-after:", 12) == 0) {
        char v[128];
        size_t k = len - 12 < sizeof v - 1 ? len - 12 : sizeof v - 1;
        memcpy(v, p + 12, k);
        v[k] = '\0';
        v[strcspn(v, "\r\n")] = '\0';
        int64_t delay;
        if (evb_retry_after_parse(v, evb_now_ms(), &delay))
            x->retry_after_ms = delay;
    }
    return len;
}

/* The SSRF guard: called for every address curl is about to connect to. */
static curl_socket_t open_socket(void *arg, curlsocktype purpose, struct curl_sockaddr *a)
{
    xfer *x = arg;
    const char *why = NULL;
    if (purpose != CURLSOCKTYPE_IPCXN ||
        !evb_ssrf_allowed(x->allow, &a->addr, a->addrlen, &why)) {
        snprintf(x->blocked, sizeof x->blocked, "blocked by the SSRF guard: %s address",
                 why ? why : "disallowed");
        return CURL_SOCKET_BAD;
    }
    return socket(a->family, a->socktype, a->protocol);
}

static evb_err setup_easy(xfer *x)
{
    CURL *e = x->easy = curl_easy_init();
    if (e == NULL)
        return EVB_ERR_NOMEM;
    for (size_t i = 0; i < x->req.n_headers; i++) {
        struct curl_slist *h = curl_slist_append(x->headers, x->req.headers[i]);
        if (h == NULL)
            return EVB_ERR_NOMEM;
        x->headers = h;
    }
    /* curl adds these unless told not to: no "Expect: 100-continue", and no form
     * content type on a request without one */
    struct curl_slist *h = curl_slist_append(x->headers, "Expect:");
    if (h == NULL)
        return EVB_ERR_NOMEM;
    x->headers = h;
    if (evb_http_request_header(&x->req, "content-type") == NULL) {
        if ((h = curl_slist_append(x->headers, "Content-Type:")) == NULL)
            return EVB_ERR_NOMEM;
        x->headers = h;
    }
    curl_easy_setopt(e, CURLOPT_URL, x->req.url);
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, x->req.method);
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, x->req.body ? x->req.body : "");
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)x->req.body_len);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, x->headers);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, x->req.timeout_ms > 0 ? x->req.timeout_ms : 15000L);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_PROXY, "");
    curl_easy_setopt(e, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "evbridge/" EVB_VERSION);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, open_socket);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, x);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf);
    curl_easy_setopt(e, CURLOPT_PRIVATE, (char *)x);
    return EVB_OK;
}

evb_err evb_xfer_new(evb_claim *c, const conn_entry *ce, const action_entry *a,
                     const evb_cidr_list *allow, xfer **out, evb_error *err)
{
    xfer *x = calloc(1, sizeof *x);
    if (x == NULL)
        return evb_error_set(err, EVB_ERR_NOMEM, NULL, "out of memory");
    x->retry_after_ms = -1;
    x->allow = allow;
    x->start_ms = evb_now_ms();
    evb_buf_init(&x->response, EVB_XFER_RESPONSE_CAP);
    evb_err rc;
    if (a->kind == ACTION_ROBOT) {
        x->is_robot = 1;
        rc = evb_robot_request_build(a->robot, c->event, x->start_ms, &x->req, err);
    } else {
        rc = evb_http_request_build(a->http, ce->transform, c->event, c->delivery->id,
                                    x->start_ms / 1000, &x->req, err);
    }
    if (rc == EVB_OK && !evb_url_scheme_allowed(x->req.url))
        rc = evb_error_set(err, EVB_ERR_INVALID, "url", "only http and https targets");
    if (rc == EVB_OK && (rc = setup_easy(x)) != EVB_OK)
        evb_error_set(err, rc, NULL, "cannot set up the transfer");
    if (rc != EVB_OK) {
        evb_xfer_free(x);
        return rc;
    }
    x->claim = *c; /* ownership moves in */
    free(c);
    *out = x;
    return EVB_OK;
}

void evb_xfer_outcome(xfer *x, CURLcode cc, evb_xfer_result *res)
{
    memset(res, 0, sizeof *res);
    long status = 0;
    curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
    res->http_status = cc == CURLE_OK ? (int)status : 0;
    if (cc != CURLE_OK) {
        res->outcome = x->blocked[0] ? EVB_OUTCOME_DEAD : EVB_OUTCOME_RETRY;
        snprintf(res->error, sizeof res->error, "%s",
                 x->blocked[0] ? x->blocked : x->errbuf[0] ? x->errbuf : curl_easy_strerror(cc));
        return;
    }
    if (x->is_robot) {
        long long code = 0;
        char msg[160] = "";
        int have = evb_robot_parse_response(x->response.data, x->response.len, &code, msg,
                                            sizeof msg);
        res->errcode = have ? code : 0;
        res->outcome = evb_robot_outcome(res->http_status, code, have);
        if (res->outcome != EVB_OUTCOME_DELIVERED)
            snprintf(res->error, sizeof res->error, "robot answered HTTP %d, errcode %lld: %s",
                     res->http_status, have ? code : 0LL, have ? msg : "no errcode in the body");
        return;
    }
    res->outcome = evb_http_outcome(res->http_status);
    if (res->outcome != EVB_OUTCOME_DELIVERED)
        snprintf(res->error, sizeof res->error, "target answered HTTP %d%s", res->http_status,
                 res->http_status >= 300 && res->http_status < 400 ? " (redirects are not followed)"
                 : res->http_status == 410 ? " Gone"
                                            : "");
}

void evb_xfer_free(xfer *x)
{
    if (x == NULL)
        return;
    if (x->easy != NULL)
        curl_easy_cleanup(x->easy);
    curl_slist_free_all(x->headers);
    evb_http_request_fini(&x->req);
    evb_buf_fini(&x->response);
    if (x->claim.delivery != NULL) {
        evb_delivery_rec_free(x->claim.delivery);
        evb_event_free(x->claim.event);
    }
    free(x);
}
