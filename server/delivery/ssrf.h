/* evbridge — SSRF guard: may evbridged connect to this resolved address?
 *
 * Every address a delivery target resolves to is checked before connecting (the
 * dispatcher calls evb_ssrf_allowed from libcurl's socket-open hook, so DNS rebinding
 * cannot slip past a check made on the name). Denied unless allow-listed:
 *  IPv4  0.0.0.0/8 this-network, 10/8 172.16/12 192.168/16 private, 100.64/10 CGNAT,
 *        127/8 loopback, 169.254/16 link-local, 192.0.0/24 and 240/4 reserved,
 *        192.0.2/24 198.51.100/24 203.0.113/24 documentation, 192.88.99/24 6to4 relay,
 *        198.18/15 benchmarking, 224/4 multicast, 255.255.255.255 broadcast, and the cloud
 *        metadata addresses 169.254.169.254, 100.100.100.200 (Alibaba Cloud) and
 *        168.63.129.16 (Azure wire server).
 *  IPv6  :: unspecified, ::1 loopback, the rest of ::/96 (IPv4-compatible, deprecated),
 *        ::ffff:0:0/96 IPv4-mapped, 64:ff9b::/96 NAT64 and 2002::/16 6to4 (the embedded
 *        IPv4 address is classified), 64:ff9b:1::/48 local NAT64, 100::/64 discard,
 *        2001::/23 IETF protocol assignments (Teredo, ORCHID ...), 2001:db8::/32 and
 *        3fff::/20 documentation, fc00::/7 unique-local (fd00:ec2::254, AWS metadata,
 *        named "metadata"), fe80::/10 link-local, fec0::/10 site-local, ff00::/8
 *        multicast, and everything else outside 2000::/3 (global unicast) as reserved.
 * The allow-list wins over every deny rule. An IPv4 entry also matches the IPv4-mapped
 * form of its addresses (::ffff:127.0.0.1 is 127.0.0.1 on the wire); embedded addresses
 * of NAT64 and 6to4 are not matched against IPv4 entries (the packet goes to a gateway).
 * Families other than AF_INET / AF_INET6 are always denied.
 *
 * The rest of the outbound policy (only http/https, no redirects, no proxies from the
 * environment) is applied by the dispatcher with libcurl options; evb_url_scheme_allowed
 * is the check on a configured URL.
 */
#ifndef EVB_DELIVERY_SSRF_H
#define EVB_DELIVERY_SSRF_H

#include <sys/socket.h>

#include "common/err.h"

/* An allow-list of CIDR blocks (IPv4 and IPv6). Built once, then read-only: concurrent
 * evb_ssrf_allowed calls on one list are safe; adding while others read is not. */
typedef struct evb_cidr_list evb_cidr_list;

/* A new empty list in *out. Returns EVB_OK or EVB_ERR_NOMEM. */
evb_err evb_cidr_list_new(evb_cidr_list **out);

/* Adds one block: "10.0.0.0/8", "fd00::/8", or a bare address ("127.0.0.1" = /32,
 * "::1" = /128). Spaces and tabs around it are ignored. Host bits past the prefix are
 * ignored ("10.1.2.3/8" is 10.0.0.0/8). Returns EVB_OK, EVB_ERR_INVALID (malformed
 * address, prefix out of range; err says which) or EVB_ERR_NOMEM; the list is unchanged
 * on error. list and cidr must not be NULL; err may be NULL. */
evb_err evb_cidr_list_add(evb_cidr_list *list, const char *cidr, evb_error *err);

/* Parses a comma-separated list (the EVB_ALLOW_TARGET_CIDRS form) into a new list in *out.
 * Empty items are skipped (NULL or "" gives an empty list). On error nothing is returned
 * and err names the bad item. err may be NULL. */
evb_err evb_cidr_list_parse(const char *comma_separated, evb_cidr_list **out, evb_error *err);

/* The number of blocks in list (NULL gives 0). */
size_t evb_cidr_list_count(const evb_cidr_list *list);

/* Frees list; NULL is a no-op. */
void evb_cidr_list_free(evb_cidr_list *list);

/* 1 when sa (of len bytes) is in list (NULL = empty list), else 0. */
int evb_cidr_list_contains(const evb_cidr_list *list, const struct sockaddr *sa, socklen_t len);

/* The deny rule sa falls under, as a static string ("loopback", "private", "cgnat",
 * "link-local", "metadata", "multicast", "broadcast", "reserved", "this-network",
 * "unspecified", "documentation", "benchmarking", "6to4-relay", "discard",
 * "unique-local", "site-local", "ietf-protocol", "unsupported-family", "invalid-address"),
 * or NULL for a public address. Ignores any allow-list. Thread-safe. */
const char *evb_ssrf_classify(const struct sockaddr *sa, socklen_t len);

/* 1 when evbridged may connect to sa: it is in allow (may be NULL) or is public. When why
 * is not NULL it receives a static string: "allow-listed", "public", or the deny reason of
 * evb_ssrf_classify. Thread-safe for a read-only allow. */
int evb_ssrf_allowed(const evb_cidr_list *allow, const struct sockaddr *sa, socklen_t len,
                     const char **why);

/* 1 when url starts with "http://" or "https://" (scheme case-insensitive) followed by at
 * least one character; 0 otherwise (other schemes, no scheme, NULL). Thread-safe. */
int evb_url_scheme_allowed(const char *url);

#endif
