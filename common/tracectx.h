/* evbridge — W3C Trace Context header values (traceparent, tracestate).
 *
 * Pure checks, no I/O: evbridged accepts a traceparent from gRPC metadata only when it is
 * well-formed, and keeps the value unchanged on the stored event (extension `traceparent`,
 * the CloudEvents distributed-tracing extension), so the same trace id reaches receivers.
 * Spec: https://www.w3.org/TR/trace-context/#traceparent-header
 *       https://github.com/cloudevents/spec/blob/main/cloudevents/extensions/distributed-tracing.md
 * All functions are thread-safe.
 */
#ifndef EVB_COMMON_TRACECTX_H
#define EVB_COMMON_TRACECTX_H

#include <stddef.h>

#define EVB_TRACESTATE_MAX 512

/* 1 when s is a valid traceparent: version-traceid-parentid-flags in lower-case hex,
 * version not ff, trace id and parent id not all zeros; version 00 is exactly 55
 * characters; a later version may carry more after a '-' (W3C §3.2.4). NULL gives 0. */
int evb_traceparent_valid(const char *s);

/* 1 when s may be kept as a tracestate: at most EVB_TRACESTATE_MAX characters of visible
 * ASCII and spaces (list members are not parsed: the value is passed on as given). */
int evb_tracestate_valid(const char *s);

/* Copies the 32 hex digits of the trace id of a valid traceparent into out (33 bytes).
 * Returns 0 (out untouched) when s is not valid. */
int evb_traceparent_trace_id(const char *s, char out[33]);

#endif
