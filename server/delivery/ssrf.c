/* evbridge — SSRF guard (ssrf.h): address classification and the CIDR allow-list.
 *
 * Design: both families are reduced to byte strings and matched against small ordered
 * tables of (prefix, length, reason), most specific first, so a metadata address is
 * reported as "metadata" rather than as the link-local or CGNAT block around it. IPv6
 * forms that carry an IPv4 address (mapped, NAT64, 6to4) are classified by that address.
 * Ranges: IANA IPv4/IPv6 Special-Purpose Address Registries (RFC 6890 and updates).
 * No I/O, no allocation except the allow-list itself.
 */
#include "server/delivery/ssrf.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct cidr {
    int family; /* AF_INET or AF_INET6 */
    unsigned char addr[16];
    unsigned prefix;
} cidr;

struct evb_cidr_list {
    cidr *items;
    size_t n, cap;
};

typedef struct range {
    unsigned char addr[16];
    unsigned prefix;
    const char *why;
} range;

static const range V4_DENY[] = {
    {{169, 254, 169, 254}, 32, "metadata"},  {{100, 100, 100, 200}, 32, "metadata"},
    {{168, 63, 129, 16}, 32, "metadata"},    {{255, 255, 255, 255}, 32, "broadcast"},
    {{0, 0, 0, 0}, 8, "this-network"},       {{10, 0, 0, 0}, 8, "private"},
    {{100, 64, 0, 0}, 10, "cgnat"},          {{127, 0, 0, 0}, 8, "loopback"},
    {{169, 254, 0, 0}, 16, "link-local"},    {{172, 16, 0, 0}, 12, "private"},
    {{192, 0, 0, 0}, 24, "reserved"},        {{192, 0, 2, 0}, 24, "documentation"},
    {{192, 88, 99, 0}, 24, "6to4-relay"},    {{192, 168, 0, 0}, 16, "private"},
    {{198, 18, 0, 0}, 15, "benchmarking"},   {{198, 51, 100, 0}, 24, "documentation"},
    {{203, 0, 113, 0}, 24, "documentation"}, {{224, 0, 0, 0}, 4, "multicast"},
    {{240, 0, 0, 0}, 4, "reserved"},
};

/* Checked after the embedded-IPv4 forms (::ffff:0:0/96, 64:ff9b::/96, 2002::/16). */
static const range V6_DENY[] = {
    {{0}, 128, "unspecified"},
    {{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, 128, "loopback"},
    {{0}, 96, "reserved"}, /* IPv4-compatible (deprecated) */
    {{0xfd, 0x00, 0x0e, 0xc2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02, 0x54}, 128, "metadata"},
    {{0x00, 0x64, 0xff, 0x9b, 0x00, 0x01}, 48, "private"}, /* local-use NAT64 */
    {{0x01, 0x00}, 64, "discard"},
    {{0x20, 0x01, 0x0d, 0xb8}, 32, "documentation"},
    {{0x20, 0x01}, 23, "ietf-protocol"},
    {{0x3f, 0xff}, 20, "documentation"},
    {{0xfc}, 7, "unique-local"},
    {{0xfe, 0x80}, 10, "link-local"},
    {{0xfe, 0xc0}, 10, "site-local"},
    {{0xff}, 8, "multicast"},
};

static int prefix_match(const unsigned char *a, const unsigned char *net, unsigned prefix)
{
    unsigned full = prefix / 8, rest = prefix % 8;
    if (memcmp(a, net, full) != 0)
        return 0;
    if (rest == 0)
        return 1;
    unsigned char mask = (unsigned char)(0xffu << (8 - rest));
    return (a[full] & mask) == (net[full] & mask);
}

static const char *classify_v4(const unsigned char *a)
{
    for (size_t i = 0; i < sizeof V4_DENY / sizeof V4_DENY[0]; i++)
        if (prefix_match(a, V4_DENY[i].addr, V4_DENY[i].prefix))
            return V4_DENY[i].why;
    return NULL;
}

static const unsigned char MAPPED[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
static const unsigned char NAT64[12] = {0x00, 0x64, 0xff, 0x9b};

static const char *classify_v6(const unsigned char *a)
{
    if (memcmp(a, MAPPED, 12) == 0 || memcmp(a, NAT64, 12) == 0)
        return classify_v4(a + 12);
    if (a[0] == 0x20 && a[1] == 0x02) /* 6to4: 2002:AABB:CCDD::/48 */
        return classify_v4(a + 2);
    for (size_t i = 0; i < sizeof V6_DENY / sizeof V6_DENY[0]; i++)
        if (prefix_match(a, V6_DENY[i].addr, V6_DENY[i].prefix))
            return V6_DENY[i].why;
    if ((a[0] & 0xe0) != 0x20) /* outside 2000::/3 */
        return "reserved";
    return NULL;
}

/* 1 when sa is long enough to hold its family field. */
static int has_family(const struct sockaddr *sa, socklen_t len)
{
    return sa != NULL &&
           len >= (socklen_t)(offsetof(struct sockaddr, sa_family) + sizeof(sa_family_t));
}

/* Extracts the family and address bytes of sa; 0 when unusable. */
static int sockaddr_bytes(const struct sockaddr *sa, socklen_t len, int *family, unsigned char *out)
{
    if (!has_family(sa, len))
        return 0;
    if (sa->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
        struct sockaddr_in in;
        memcpy(&in, sa, sizeof in);
        memcpy(out, &in.sin_addr, 4);
        *family = AF_INET;
        return 1;
    }
    if (sa->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
        struct sockaddr_in6 in6;
        memcpy(&in6, sa, sizeof in6);
        memcpy(out, &in6.sin6_addr, 16);
        *family = AF_INET6;
        return 1;
    }
    return 0;
}

const char *evb_ssrf_classify(const struct sockaddr *sa, socklen_t len)
{
    unsigned char a[16];
    int family;
    if (has_family(sa, len) && sa->sa_family != AF_INET && sa->sa_family != AF_INET6)
        return "unsupported-family";
    if (!sockaddr_bytes(sa, len, &family, a))
        return "invalid-address";
    return family == AF_INET ? classify_v4(a) : classify_v6(a);
}

/* ---- allow-list ----------------------------------------------------------------------- */

evb_err evb_cidr_list_new(evb_cidr_list **out)
{
    *out = calloc(1, sizeof **out);
    return *out != NULL ? EVB_OK : EVB_ERR_NOMEM;
}

void evb_cidr_list_free(evb_cidr_list *list)
{
    if (list == NULL)
        return;
    free(list->items);
    free(list);
}

size_t evb_cidr_list_count(const evb_cidr_list *list)
{
    return list != NULL ? list->n : 0;
}

static int is_blank(char c)
{
    return c == ' ' || c == '\t';
}

/* Parses s[0..n) as a CIDR block. */
static evb_err parse_cidr(const char *s, size_t n, cidr *c, evb_error *err)
{
    while (n > 0 && is_blank(*s))
        s++, n--;
    while (n > 0 && is_blank(s[n - 1]))
        n--;
    char buf[INET6_ADDRSTRLEN + 8];
    if (n == 0 || n >= sizeof buf)
        return evb_error_set(err, EVB_ERR_INVALID, "allow_target_cidr",
                             "not a CIDR block: \"%.*s\"", (int)(n < 80 ? n : 80), s);
    memcpy(buf, s, n);
    buf[n] = '\0';
    char *slash = strchr(buf, '/');
    long prefix = -1;
    if (slash != NULL) {
        *slash = '\0';
        const char *p = slash + 1;
        size_t digits = strspn(p, "0123456789");
        /* 1..3 digits, nothing else, no leading zero */
        if (digits == 0 || digits > 3 || p[digits] != '\0' || (p[0] == '0' && digits > 1))
            return evb_error_set(err, EVB_ERR_INVALID, "allow_target_cidr",
                                 "bad prefix length in \"%s/%s\"", buf, p);
        prefix = strtol(p, NULL, 10);
    }
    memset(c, 0, sizeof *c);
    unsigned max;
    if (inet_pton(AF_INET, buf, c->addr) == 1) {
        c->family = AF_INET;
        max = 32;
    } else if (inet_pton(AF_INET6, buf, c->addr) == 1) {
        c->family = AF_INET6;
        max = 128;
    } else {
        return evb_error_set(err, EVB_ERR_INVALID, "allow_target_cidr",
                             "not an IPv4 or IPv6 address: \"%s\"", buf);
    }
    if (prefix > (long)max)
        return evb_error_set(err, EVB_ERR_INVALID, "allow_target_cidr",
                             "prefix length of \"%s\" must be 0..%u", buf, max);
    c->prefix = prefix < 0 ? max : (unsigned)prefix;
    return EVB_OK;
}

static evb_err list_push(evb_cidr_list *list, const cidr *c)
{
    if (list->n == list->cap) {
        size_t cap = list->cap ? list->cap * 2 : 8;
        cidr *items = realloc(list->items, cap * sizeof *items);
        if (items == NULL)
            return EVB_ERR_NOMEM;
        list->items = items;
        list->cap = cap;
    }
    list->items[list->n++] = *c;
    return EVB_OK;
}

evb_err evb_cidr_list_add(evb_cidr_list *list, const char *cidr_text, evb_error *err)
{
    cidr c;
    evb_err rc = parse_cidr(cidr_text, strlen(cidr_text), &c, err);
    if (rc != EVB_OK)
        return rc;
    rc = list_push(list, &c);
    if (rc != EVB_OK)
        return evb_error_set(err, rc, "allow_target_cidr", "out of memory");
    return EVB_OK;
}

evb_err evb_cidr_list_parse(const char *comma_separated, evb_cidr_list **out, evb_error *err)
{
    evb_cidr_list *list;
    if (evb_cidr_list_new(&list) != EVB_OK)
        return evb_error_set(err, EVB_ERR_NOMEM, "allow_target_cidr", "out of memory");
    const char *s = comma_separated != NULL ? comma_separated : "";
    while (*s != '\0') {
        const char *end = strchr(s, ',');
        size_t n = end != NULL ? (size_t)(end - s) : strlen(s);
        size_t i = 0;
        while (i < n && is_blank(s[i]))
            i++;
        if (i < n) {
            cidr c;
            evb_err rc = parse_cidr(s, n, &c, err);
            if (rc == EVB_OK && (rc = list_push(list, &c)) != EVB_OK)
                evb_error_set(err, rc, "allow_target_cidr", "out of memory");
            if (rc != EVB_OK) {
                evb_cidr_list_free(list);
                return rc;
            }
        }
        s += n;
        if (*s == ',')
            s++;
    }
    *out = list;
    return EVB_OK;
}

int evb_cidr_list_contains(const evb_cidr_list *list, const struct sockaddr *sa, socklen_t len)
{
    unsigned char a[16];
    int family;
    if (list == NULL || list->n == 0 || !sockaddr_bytes(sa, len, &family, a))
        return 0;
    const unsigned char *v4 = family == AF_INET ? a : NULL;
    if (family == AF_INET6 && memcmp(a, MAPPED, 12) == 0)
        v4 = a + 12;
    for (size_t i = 0; i < list->n; i++) {
        const cidr *c = &list->items[i];
        if (c->family == AF_INET ? v4 != NULL && prefix_match(v4, c->addr, c->prefix)
                                 : family == AF_INET6 && prefix_match(a, c->addr, c->prefix))
            return 1;
    }
    return 0;
}

int evb_ssrf_allowed(const evb_cidr_list *allow, const struct sockaddr *sa, socklen_t len,
                     const char **why)
{
    if (evb_cidr_list_contains(allow, sa, len)) {
        if (why != NULL)
            *why = "allow-listed";
        return 1;
    }
    const char *reason = evb_ssrf_classify(sa, len);
    if (why != NULL)
        *why = reason != NULL ? reason : "public";
    return reason == NULL;
}

int evb_url_scheme_allowed(const char *url)
{
    if (url == NULL)
        return 0;
    static const char *const SCHEMES[] = {"http://", "https://"};
    for (size_t i = 0; i < 2; i++) {
        const char *w = SCHEMES[i];
        size_t k = 0;
        while (w[k] != '\0' && url[k] != '\0' &&
               (url[k] == w[k] || (url[k] >= 'A' && url[k] <= 'Z' && url[k] + 32 == w[k])))
            k++;
        if (w[k] == '\0' && url[k] != '\0')
            return 1;
    }
    return 0;
}
