/* evbridge — event patterns: compile, match one, match many.
 *
 * A connection filters events with an *event pattern* whose semantics are those of AWS
 * EventBridge (reference implementation: aws/event-ruler), plus Alibaba's `contains`.
 * A pattern is matched against the CloudEvent *as a JSON object*: context attributes (id,
 * source, specversion, type, subject, time, datacontenttype, dataschema) and extensions
 * (orgid, connector, ...) at the top level, the payload under "data". Building that object
 * is the caller's job: evb_ce_json_encode() (server/cloudevents/ce_json.h) followed by
 * evb_pattern_match_text(), or a json_t built directly, both give it; routing describes the
 * object without building it, as an evb_pattern_view (below) over the event's attributes
 * and the payload's evb_json document.
 *
 * Rules, in short (docs/ has the user-facing reference):
 *  - A pattern is a JSON object whose leaves are non-empty arrays. AND across fields, OR
 *    within an array; fields the pattern does not name are ignored; {} matches everything.
 *    Paths are joined with '.', so {"a":{"b.c":[..]}} == {"a":{"b":{"c":[..]}}}; an event
 *    member literally named "b.c" is reached by the same path (as in event-ruler).
 *  - Only *leaf* values are matched: a path that leads to an object is not a value. An
 *    array in the event is transparent: it matches when one of its elements does, at any
 *    nesting depth. Fields are never combined across different elements of one array.
 *  - Exact values: strings (bytes), numbers (numerically, as IEEE doubles: 300 == 300.0 ==
 *    3.0e2; integers beyond 2^53 that round to the same double are equal), true, false,
 *    null. "" and null differ; the string "5" is not the number 5.
 *  - {"prefix": s} {"suffix": s} (s may be ""; also {"prefix": {"equals-ignore-case": s}}),
 *    {"equals-ignore-case": s}, {"wildcard": s} ('*' = any run, "\\*" and "\\\\" escape,
 *    "**" and other escapes invalid), {"contains": s} (Alibaba extension) match strings.
 *  - {"anything-but": X}: X is a string, a number, a non-empty list of strings or of numbers,
 *    or {"prefix"|"suffix"|"equals-ignore-case"|"wildcard"|"contains": string or list}.
 *    It matches every *present* leaf value (null, booleans and other types included) that X
 *    does not match; a missing field never matches.
 *  - {"numeric": ["=", n]} / ["<"|"<="|">"|">=", n] / [">"|">=", lo, "<"|"<=", hi] with
 *    lo < hi: JSON numbers only, full double range.
 *  - {"cidr": "10.0.0.0/24"} / {"cidr": "2001:db8::/32"}: the value must be a string holding
 *    an address of the same family (no IPv4-mapped IPv6 equivalence). Host bits in the
 *    pattern's address are ignored.
 *  - {"exists": true} matches any leaf value, null included, but not [] or an object;
 *    {"exists": false} matches when no leaf exists at the path anywhere in the event (so also
 *    a path leading to an object or to []), without regard to array elements.
 *  - "$or": an array of >= 2 non-empty objects, at any level, nestable.
 *  - Case folding (equals-ignore-case and the ignore-case prefix/suffix) is Unicode *simple*
 *    case folding for Latin (ASCII, Latin-1, Extended-A, Extended Additional), Greek,
 *    Cyrillic, Armenian and fullwidth Latin; other code points (and invalid UTF-8 bytes)
 *    compare as bytes. Full foldings such as "ß" == "ss" are not applied.
 *
 * Limits: a pattern is at most max_bytes of text (EVB_PATTERN_MAX_BYTES by default) and its
 * "$or" combinations expand to at most EVB_PATTERN_MAX_BRANCHES alternatives.
 *
 * Threads: a compiled evb_pattern and a built evb_matcher are immutable and may be used by
 * any number of threads at once.
 */
#ifndef EVB_SERVER_ROUTING_PATTERN_H
#define EVB_SERVER_ROUTING_PATTERN_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "registry/json_value.h"

#define EVB_PATTERN_MAX_BYTES 4096u   /* default size limit of a pattern's JSON text */
#define EVB_PATTERN_MAX_BRANCHES 256u /* max alternatives after expanding "$or" */

typedef struct evb_pattern evb_pattern;
typedef struct evb_matcher evb_matcher;

/* Compiles the pattern json[0..len) (UTF-8 JSON text; need not be NUL-terminated) into
 * *out. max_bytes limits len; 0 means EVB_PATTERN_MAX_BYTES.
 * Errors (err may be NULL; on failure *out is untouched):
 *  - EVB_ERR_INVALID: too large, malformed JSON (duplicate keys included), or a rule is
 *    broken. err->pointer is the JSON pointer of the offending member in the pattern
 *    ("/data/amount/0/numeric"; "" for the whole pattern), err->message names the rule
 *    ("numeric: lower bound must be below upper bound"). Suitable for INVALID_ARGUMENT.
 *  - EVB_ERR_NOMEM.
 * json must not be NULL (EVB_ERR_INVALID). Thread-safe. */
evb_err evb_pattern_compile(const char *json, size_t len, size_t max_bytes, evb_pattern **out,
                            evb_error *err);

/* Frees p. NULL is a no-op. p must not be in use (nor borrowed by a live matcher). */
void evb_pattern_free(evb_pattern *p);

/* 1 when the event object matches p, else 0. event is the CloudEvent as a JSON object (see
 * the file comment); anything else (NULL, a non-object) never matches. Numbers may be
 * jansson integers or reals. Allocates per call; returns 0 if an allocation fails.
 * Thread-safe (p and event are only read). */
int evb_pattern_match(const evb_pattern *p, const json_t *event);

/* Parses event_json[0..len) as a JSON object (integers are read as doubles, so any JSON
 * number is accepted; duplicate keys are rejected) and sets *matched to 1 or 0.
 * EVB_ERR_PARSE for malformed JSON, EVB_ERR_INVALID when it is not an object (err names
 * the position or says so), EVB_ERR_NOMEM. Used by TestEventPattern. Thread-safe. */
evb_err evb_pattern_match_text(const evb_pattern *p, const char *event_json, size_t len,
                               int *matched, evb_error *err);

/* ---- events without a JSON tree -------------------------------------------------------
 * An event view lists the members of the event object: each a string (a context attribute
 * or an extension) or a value of a parsed evb_json document (registry/json_value.h; the
 * payload under "data"). Matching a view answers exactly as matching the json_t object with
 * the same members would: evb_json integers and reals are numbers compared as doubles, as
 * jansson's are; strings are bytes (embedded NULs included). Values are borrowed. */
typedef struct evb_pattern_member {
    const char *name; /* name_len bytes, no NUL among them; need not be NUL-terminated */
    size_t name_len;
    const char *str; /* a string value of str_len bytes (valid UTF-8), or NULL: then */
    size_t str_len;
    const evb_json *json; /* the value; when both are NULL the member is absent */
} evb_pattern_member;

typedef struct evb_pattern_view {
    const evb_pattern_member *members; /* names distinct */
    size_t n;
} evb_pattern_view;

/* 1 when the event described by view matches p, else 0 (also for NULL p or view, or when an
 * allocation fails). Thread-safe (p and the view are only read). */
int evb_pattern_match_view(const evb_pattern *p, const evb_pattern_view *view);

/* Number of alternatives p expanded to ("$or"); 1 for a pattern without "$or". */
size_t evb_pattern_branches(const evb_pattern *p);

/* ---- many patterns at once --------------------------------------------------------------
 * A matcher holds the patterns of one (org, connector), each under a caller-chosen rule id
 * (e.g. the connection's row id), and indexes them so that the cost of matching an event
 * grows with the number of *candidate* rules rather than with the number of rules: every
 * alternative of every pattern is filed under its most selective exact-valued or prefix
 * field (the one whose values the fewest other alternatives share); alternatives without
 * such a field are checked for every event. It answers exactly as evaluating each pattern
 * alone with evb_pattern_match would.
 * Life cycle: evb_matcher_new, evb_matcher_add (any number), evb_matcher_build once, then
 * evb_matcher_match from any number of threads, evb_matcher_free. A built matcher is
 * immutable: to change the set, build a new one and swap it in. */

/* A new, empty matcher in *out. EVB_ERR_NOMEM. Thread-safe. */
evb_err evb_matcher_new(evb_matcher **out);

/* Adds pattern p under rule_id. p is *borrowed*: it must stay alive and unchanged until
 * evb_matcher_free(m). The same rule_id may be added more than once (the rule then matches
 * when any of its patterns does, and is reported once). EVB_ERR_INVALID when m or p is
 * NULL or m is already built, EVB_ERR_NOMEM. Not thread-safe (one builder per matcher). */
evb_err evb_matcher_add(evb_matcher *m, const evb_pattern *p, uint64_t rule_id);

/* Freezes m into its index. EVB_ERR_INVALID when already built, EVB_ERR_NOMEM (m then stays
 * unbuilt and may be freed). Not thread-safe. */
evb_err evb_matcher_build(evb_matcher *m);

/* Matches event (as for evb_pattern_match) against every rule of the built matcher m.
 * Writes the ids of the matching rules, each once, in the order they were first added, to
 * ids_out[0..cap) and their total count to *n_out. When the count exceeds cap, the first
 * cap ids are written and EVB_ERR_LIMIT is returned (call again with a larger buffer).
 * ids_out may be NULL when cap is 0. EVB_ERR_INVALID when m is not built or n_out is NULL,
 * EVB_ERR_NOMEM. A NULL or non-object event matches nothing. Thread-safe after build. */
evb_err evb_matcher_match(const evb_matcher *m, const json_t *event, uint64_t *ids_out, size_t cap,
                          size_t *n_out);

/* As evb_matcher_match, for an event view. A NULL view matches nothing. Thread-safe after
 * build. */
evb_err evb_matcher_match_view(const evb_matcher *m, const evb_pattern_view *view,
                               uint64_t *ids_out, size_t cap, size_t *n_out);

/* Number of patterns added to m. */
size_t evb_matcher_count(const evb_matcher *m);

/* Frees m (not the borrowed patterns). NULL is a no-op. */
void evb_matcher_free(evb_matcher *m);

#endif
