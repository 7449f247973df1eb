/* evbridge — clocks and RFC 3339 timestamps.
 *
 * Times are int64 milliseconds since the Unix epoch (UTC) unless the name says otherwise.
 * RFC 3339 parsing is strict (RFC 3339 §5.6: full-date "T" full-time, 'T'/'t' and 'Z'/'z'
 * accepted, fractional seconds of any length, numeric offsets; leap second 60 accepted
 * only as the last second of a UTC day, i.e. 23:59:60 after applying the offset (§5.7),
 * and folded to 59). All functions are thread-safe.
 */
#ifndef EVB_COMMON_TIMEUTIL_H
#define EVB_COMMON_TIMEUTIL_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

/* Wall clock, ms since epoch. */
int64_t evb_now_ms(void);
/* Monotonic clock, ms (for timeouts and intervals). */
int64_t evb_mono_ms(void);
/* Monotonic clock, ns. */
int64_t evb_mono_ns(void);

/* Parses an RFC 3339 date-time. On EVB_OK sets *ms_out (UTC ms; sub-ms digits truncated)
 * and, when nanos_out is not NULL, the nanoseconds within the second. Returns
 * EVB_ERR_PARSE for anything else (including out-of-range fields such as month 13). */
evb_err evb_time_parse_rfc3339(const char *s, int64_t *ms_out, int32_t *nanos_out);

/* Formats ms as "YYYY-MM-DDTHH:MM:SS.mmmZ" into out (at least 25 bytes). Returns out. */
char *evb_time_format_rfc3339(int64_t ms, char *out, size_t outlen);

/* Seconds/nanos split for protobuf Timestamps. */
void evb_time_split(int64_t ms, int64_t *seconds, int32_t *nanos);

#endif
