/* evbridge tests — SSRF guard (server/delivery/ssrf.h): every denied IPv4 and IPv6 range
 * (edges included) and the embedded-IPv4 forms, public addresses, the allow-list winning
 * over deny rules, CIDR parsing, odd sockaddrs, and the URL scheme check; table-driven.
 */
#include <CUnit/CUnit.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>

#include "policy_test.h"
#include "server/delivery/ssrf.h"

/* Fills ss from a literal address; returns its length (0 when not an address). */
static socklen_t addr_of(const char *text, struct sockaddr_storage *ss)
{
    memset(ss, 0, sizeof *ss);
    struct sockaddr_in *in = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, text, &in->sin_addr) == 1) {
        in->sin_family = AF_INET;
        in->sin_port = htons(443);
        return sizeof *in;
    }
    if (inet_pton(AF_INET6, text, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(443);
        return sizeof *in6;
    }
    return 0;
}

typedef struct class_row {
    const char *addr;
    const char *why; /* NULL = public */
} class_row;

static const class_row CLASS_ROWS[] = {
    /* IPv4 */
    {"0.0.0.0", "this-network"},
    {"0.255.255.255", "this-network"},
    {"1.0.0.0", NULL},
    {"9.255.255.255", NULL},
    {"10.0.0.0", "private"},
    {"10.255.255.255", "private"},
    {"11.0.0.0", NULL},
    {"100.63.255.255", NULL},
    {"100.64.0.0", "cgnat"},
    {"100.127.255.255", "cgnat"},
    {"100.100.100.200", "metadata"}, /* Alibaba Cloud */
    {"100.100.100.201", "cgnat"},
    {"100.128.0.0", NULL},
    {"126.255.255.255", NULL},
    {"127.0.0.1", "loopback"},
    {"127.255.255.254", "loopback"},
    {"128.0.0.0", NULL},
    {"168.63.129.16", "metadata"}, /* Azure wire server */
    {"169.253.255.255", NULL},
    {"169.254.0.1", "link-local"},
    {"169.254.169.254", "metadata"},
    {"169.254.255.255", "link-local"},
    {"169.255.0.0", NULL},
    {"172.15.255.255", NULL},
    {"172.16.0.0", "private"},
    {"172.31.255.255", "private"},
    {"172.32.0.0", NULL},
    {"192.0.0.0", "reserved"},
    {"192.0.0.255", "reserved"},
    {"192.0.1.0", NULL},
    {"192.0.2.1", "documentation"},
    {"192.88.99.1", "6to4-relay"},
    {"192.167.255.255", NULL},
    {"192.168.0.0", "private"},
    {"192.168.255.255", "private"},
    {"192.169.0.0", NULL},
    {"198.17.255.255", NULL},
    {"198.18.0.0", "benchmarking"},
    {"198.19.255.255", "benchmarking"},
    {"198.20.0.0", NULL},
    {"198.51.100.7", "documentation"},
    {"203.0.113.9", "documentation"},
    {"223.255.255.255", NULL},
    {"224.0.0.1", "multicast"},
    {"239.255.255.255", "multicast"},
    {"240.0.0.1", "reserved"},
    {"255.255.255.254", "reserved"},
    {"255.255.255.255", "broadcast"},
    {"8.8.8.8", NULL},
    {"1.1.1.1", NULL},
    {"93.184.216.34", NULL},
    /* IPv6 */
    {"::", "unspecified"},
    {"::1", "loopback"},
    {"::2", "reserved"},
    {"::8.8.8.8", "reserved"}, /* IPv4-compatible, deprecated */
    {"::ffff:127.0.0.1", "loopback"},
    {"::ffff:10.1.2.3", "private"},
    {"::ffff:169.254.169.254", "metadata"},
    {"::ffff:100.100.100.200", "metadata"},
    {"::ffff:0.0.0.0", "this-network"},
    {"::ffff:224.0.0.1", "multicast"},
    {"::ffff:8.8.8.8", NULL},
    {"64:ff9b::127.0.0.1", "loopback"},
    {"64:ff9b::192.168.1.1", "private"},
    {"64:ff9b::8.8.8.8", NULL},
    {"64:ff9b:1::1", "private"}, /* local-use NAT64 */
    {"100::", "discard"},
    {"100::ffff:ffff:ffff:ffff", "discard"},
    {"100:0:0:1::", "reserved"},  /* outside 2000::/3 */
    {"2001::1", "ietf-protocol"}, /* Teredo */
    {"2001:1ff:ffff::1", "ietf-protocol"},
    {"2001:200::1", NULL}, /* just past 2001::/23 */
    {"2001:db8::1", "documentation"},
    {"2001:db8:ffff:ffff::", "documentation"},
    {"2001:db9::1", NULL},
    {"3fff::1", "documentation"},
    {"3fff:fff::1", "documentation"},
    {"3fff:1000::1", NULL},
    {"2002:7f00:1::1", "loopback"},   /* 6to4 of 127.0.0.1 */
    {"2002:a9fe:a9fe::", "metadata"}, /* 6to4 of 169.254.169.254 */
    {"2002:0808:0808::1", NULL},      /* 6to4 of 8.8.8.8 */
    {"fc00::1", "unique-local"},
    {"fdff:ffff::1", "unique-local"},
    {"fd00:ec2::254", "metadata"}, /* AWS */
    {"fd00:ec2::253", "unique-local"},
    {"fe80::1", "link-local"},
    {"febf:ffff::1", "link-local"},
    {"fec0::1", "site-local"},
    {"feff::1", "site-local"},
    {"ff02::1", "multicast"},
    {"ff0e::101", "multicast"},
    {"1::1", "reserved"},
    {"4000::1", "reserved"},
    {"e000::1", "reserved"},
    {"2606:4700::1111", NULL},
    {"2001:4860:4860::8888", NULL},
    {"2a00:1450:4001::1", NULL},
    {"3ffe::1", NULL},
};

static void test_classify_table(void)
{
    for (size_t i = 0; i < sizeof CLASS_ROWS / sizeof CLASS_ROWS[0]; i++) {
        const class_row *r = &CLASS_ROWS[i];
        struct sockaddr_storage ss;
        socklen_t len = addr_of(r->addr, &ss);
        CU_ASSERT_FATAL(len > 0);
        const char *got = evb_ssrf_classify((struct sockaddr *)&ss, len);
        const char *why = "x";
        int allowed = evb_ssrf_allowed(NULL, (struct sockaddr *)&ss, len, &why);
        int same = (got == NULL && r->why == NULL) ||
                   (got != NULL && r->why != NULL && strcmp(got, r->why) == 0);
        if (!same)
            fprintf(stderr, "\n  %s: %s, want %s\n", r->addr, got ? got : "public",
                    r->why ? r->why : "public");
        CU_ASSERT(same);
        CU_ASSERT_EQUAL(allowed, r->why == NULL);
        CU_ASSERT_STRING_EQUAL(why, r->why ? r->why : "public");
    }
}

typedef struct allow_row {
    const char *list;
    const char *addr;
    int allowed;
    const char *why;
} allow_row;

static const allow_row ALLOW_ROWS[] = {
    {"127.0.0.0/8", "127.0.0.1", 1, "allow-listed"},
    {"127.0.0.0/8", "127.1.2.3", 1, "allow-listed"},
    {"127.0.0.0/8", "::ffff:127.0.0.1", 1, "allow-listed"}, /* mapped form matches */
    {"127.0.0.0/8", "::1", 0, "loopback"},
    {"127.0.0.0/8", "64:ff9b::127.0.0.1", 0, "loopback"}, /* NAT64 is not the same host */
    {"127.0.0.0/8", "10.0.0.1", 0, "private"},
    {"127.0.0.0/8", "8.8.8.8", 1, "public"},
    {"::1", "::1", 1, "allow-listed"},
    {"::1/128", "::ffff:127.0.0.1", 0, "loopback"},
    {"10.0.0.0/8, 192.168.1.0/24", "192.168.1.77", 1, "allow-listed"},
    {"10.0.0.0/8, 192.168.1.0/24", "192.168.2.1", 0, "private"},
    {"10.0.0.0/8, 192.168.1.0/24", "10.200.0.1", 1, "allow-listed"},
    {"10.1.2.3/8", "10.9.9.9", 1, "allow-listed"}, /* host bits ignored */
    {"169.254.169.254", "169.254.169.254", 1, "allow-listed"},
    {"169.254.169.254", "169.254.169.253", 0, "link-local"},
    {"100.64.0.0/10", "100.100.100.200", 1, "allow-listed"},
    {"fd00::/8", "fd00:ec2::254", 1, "allow-listed"},
    {"fd00::/8", "fc00::1", 0, "unique-local"},
    {"fe80::/10", "fe80::1234", 1, "allow-listed"},
    {"0.0.0.0/0", "127.0.0.1", 1, "allow-listed"},
    {"0.0.0.0/0", "::1", 0, "loopback"},
    {"::/0", "::1", 1, "allow-listed"},
    {"::/0", "10.0.0.1", 0, "private"},
    {"", "127.0.0.1", 0, "loopback"},
    {" , ,", "127.0.0.1", 0, "loopback"},
};

static void test_allow_table(void)
{
    for (size_t i = 0; i < sizeof ALLOW_ROWS / sizeof ALLOW_ROWS[0]; i++) {
        const allow_row *r = &ALLOW_ROWS[i];
        evb_cidr_list *l = NULL;
        evb_error e;
        evb_error_clear(&e);
        CU_ASSERT_EQUAL_FATAL(evb_cidr_list_parse(r->list, &l, &e), EVB_OK);
        struct sockaddr_storage ss;
        socklen_t len = addr_of(r->addr, &ss);
        CU_ASSERT_FATAL(len > 0);
        const char *why = NULL;
        int got = evb_ssrf_allowed(l, (struct sockaddr *)&ss, len, &why);
        if (got != r->allowed || strcmp(why, r->why) != 0)
            fprintf(stderr, "\n  [%s] %s: %d %s, want %d %s\n", r->list, r->addr, got, why,
                    r->allowed, r->why);
        CU_ASSERT_EQUAL(got, r->allowed);
        CU_ASSERT_STRING_EQUAL(why, r->why);
        CU_ASSERT_EQUAL(evb_cidr_list_contains(l, (struct sockaddr *)&ss, len),
                        strcmp(r->why, "allow-listed") == 0);
        CU_ASSERT_EQUAL(evb_ssrf_allowed(l, (struct sockaddr *)&ss, len, NULL), r->allowed);
        evb_cidr_list_free(l);
    }
}

typedef struct parse_row {
    const char *text;
    int ok;
    size_t count;
} parse_row;

static const parse_row PARSE_ROWS[] = {
    {NULL, 1, 0},
    {"", 1, 0},
    {"127.0.0.0/8", 1, 1},
    {"127.0.0.0/8,::1/128", 1, 2},
    {" 10.0.0.0/8 ,\t172.16.0.0/12 , ", 1, 2},
    {"10.0.0.0/8,,fd00::/8", 1, 2},
    {"1.2.3.4", 1, 1},
    {"::", 1, 1},
    {"0.0.0.0/0", 1, 1},
    {"::/0", 1, 1},
    {"1.2.3.4/32", 1, 1},
    {"::1/128", 1, 1},
    {"1.2.3.4/33", 0, 0},
    {"::1/129", 0, 0},
    {"1.2.3.4/", 0, 0},
    {"1.2.3.4/-1", 0, 0},
    {"1.2.3.4/08", 0, 0},
    {"1.2.3.4/8x", 0, 0},
    {"1.2.3.4/1000", 0, 0},
    {"1.2.3.4 /8", 0, 0},
    {"1.2.3/24", 0, 0},
    {"256.0.0.0/8", 0, 0},
    {"localhost", 0, 0},
    {"10.0.0.0/8,bogus", 0, 0},
    {"fe80::1%eth0", 0, 0},
    {"1.2.3.4/8/8", 0, 0},
    {"/8", 0, 0},
};

static void test_parse_table(void)
{
    for (size_t i = 0; i < sizeof PARSE_ROWS / sizeof PARSE_ROWS[0]; i++) {
        const parse_row *r = &PARSE_ROWS[i];
        static char dummy;
        evb_cidr_list *sentinel = (evb_cidr_list *)(void *)&dummy;
        evb_cidr_list *l = sentinel; /* must be left alone on error */
        evb_error e;
        evb_error_clear(&e);
        evb_err rc = evb_cidr_list_parse(r->text, &l, &e);
        if ((rc == EVB_OK) != r->ok)
            fprintf(stderr, "\n  \"%s\": %s %s\n", r->text ? r->text : "(null)", evb_strerror(rc),
                    e.message);
        CU_ASSERT_EQUAL(rc == EVB_OK, r->ok);
        if (rc == EVB_OK) {
            CU_ASSERT_EQUAL(evb_cidr_list_count(l), r->count);
            evb_cidr_list_free(l);
        } else {
            CU_ASSERT_EQUAL(rc, EVB_ERR_INVALID);
            CU_ASSERT_PTR_EQUAL(l, sentinel);
            CU_ASSERT(e.message[0] != '\0');
            CU_ASSERT_STRING_EQUAL(e.pointer, "allow_target_cidr");
        }
    }
}

/* The repeatable flag: one evb_cidr_list_add per --allow-target-cidr. */
static void test_add(void)
{
    evb_cidr_list *l = NULL;
    CU_ASSERT_EQUAL_FATAL(evb_cidr_list_new(&l), EVB_OK);
    CU_ASSERT_EQUAL(evb_cidr_list_count(l), 0);
    evb_error e;
    for (int i = 0; i < 40; i++) { /* grows past the first allocation */
        char cidr[32];
        snprintf(cidr, sizeof cidr, "10.%d.0.0/16", i);
        CU_ASSERT_EQUAL(evb_cidr_list_add(l, cidr, &e), EVB_OK);
    }
    CU_ASSERT_EQUAL(evb_cidr_list_add(l, "nope", &e), EVB_ERR_INVALID);
    CU_ASSERT_EQUAL(evb_cidr_list_add(l, "10.0.0.0/8, 11.0.0.0/8", NULL), EVB_ERR_INVALID);
    CU_ASSERT_EQUAL(evb_cidr_list_count(l), 40);
    struct sockaddr_storage ss;
    socklen_t len = addr_of("10.39.1.1", &ss);
    CU_ASSERT_EQUAL(evb_ssrf_allowed(l, (struct sockaddr *)&ss, len, NULL), 1);
    len = addr_of("10.40.1.1", &ss);
    CU_ASSERT_EQUAL(evb_ssrf_allowed(l, (struct sockaddr *)&ss, len, NULL), 0);
    evb_cidr_list_free(l);
    evb_cidr_list_free(NULL);
    CU_ASSERT_EQUAL(evb_cidr_list_count(NULL), 0);
}

static void test_odd_sockaddrs(void)
{
    struct sockaddr_storage ss;
    socklen_t len = addr_of("8.8.8.8", &ss);
    const char *why = NULL;
    CU_ASSERT_EQUAL(evb_ssrf_allowed(NULL, (struct sockaddr *)&ss, len - 1, &why), 0);
    CU_ASSERT_STRING_EQUAL(why, "invalid-address");
    len = addr_of("2606:4700::1111", &ss);
    CU_ASSERT_EQUAL(
        evb_ssrf_allowed(NULL, (struct sockaddr *)&ss, sizeof(struct sockaddr_in), &why), 0);
    CU_ASSERT_STRING_EQUAL(why, "invalid-address");
    CU_ASSERT_EQUAL(evb_ssrf_allowed(NULL, NULL, 0, &why), 0);
    CU_ASSERT_STRING_EQUAL(why, "invalid-address");
    CU_ASSERT_EQUAL(evb_ssrf_allowed(NULL, (struct sockaddr *)&ss, 1, &why), 0);
    CU_ASSERT_STRING_EQUAL(why, "invalid-address");
    struct sockaddr_un un;
    memset(&un, 0, sizeof un);
    un.sun_family = AF_UNIX;
    strcpy(un.sun_path, "/tmp/x");
    evb_cidr_list *all = NULL;
    CU_ASSERT_EQUAL_FATAL(evb_cidr_list_parse("0.0.0.0/0,::/0", &all, NULL), EVB_OK);
    CU_ASSERT_EQUAL(evb_ssrf_allowed(all, (struct sockaddr *)&un, sizeof un, &why), 0);
    CU_ASSERT_STRING_EQUAL(why, "unsupported-family");
    evb_cidr_list_free(all);
}

typedef struct url_row {
    const char *url;
    int ok;
} url_row;

static const url_row URL_ROWS[] = {
    {"http://example.com/hook", 1},
    {"https://example.com/hook", 1},
    {"HTTPS://EXAMPLE.COM", 1},
    {"Http://x", 1},
    {"http://", 0},
    {"https://", 0},
    {"http:/example.com", 0},
    {"http:example.com", 0},
    {"ftp://example.com", 0},
    {"file:///etc/passwd", 0},
    {"gopher://127.0.0.1:70/", 0},
    {"dict://127.0.0.1:11211/", 0},
    {"httpx://example.com", 0},
    {"https+unix://x", 0},
    {" http://example.com", 0},
    {"//example.com", 0},
    {"example.com", 0},
    {"", 0},
    {NULL, 0},
};

static void test_url_table(void)
{
    for (size_t i = 0; i < sizeof URL_ROWS / sizeof URL_ROWS[0]; i++) {
        int got = evb_url_scheme_allowed(URL_ROWS[i].url);
        if (got != URL_ROWS[i].ok)
            fprintf(stderr, "\n  %s: %d\n", URL_ROWS[i].url ? URL_ROWS[i].url : "(null)", got);
        CU_ASSERT_EQUAL(got, URL_ROWS[i].ok);
    }
}

const pt_case SSRF_CASES[] = {
    {"address classes, IPv4 and IPv6 (table)", test_classify_table},
    {"allow-list wins over deny rules (table)", test_allow_table},
    {"CIDR list parsing (table)", test_parse_table},
    {"repeatable add", test_add},
    {"odd sockaddrs", test_odd_sockaddrs},
    {"URL schemes (table)", test_url_table},
    {NULL, NULL},
};
