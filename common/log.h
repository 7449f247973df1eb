/* evbridge — structured logging, one record per line on stderr.
 *
 * Only the server logs; libraries (common/, registry/) return errors instead. Records are
 * JSON lines by default ({"time":..,"level":..,"component":..,"msg":.., context...}) or
 * plain text. Context is given as key/value string pairs ending with NULL. Never pass
 * secrets. All functions are thread-safe (one write(2) per record).
 */
#ifndef EVB_COMMON_LOG_H
#define EVB_COMMON_LOG_H

typedef enum evb_log_level {
    EVB_LOG_DEBUG = 0,
    EVB_LOG_INFO,
    EVB_LOG_WARN,
    EVB_LOG_ERROR,
    EVB_LOG_OFF
} evb_log_level;

typedef enum evb_log_format { EVB_LOG_JSON = 0, EVB_LOG_TEXT } evb_log_format;

/* Sets the global level and format (call before threads start; default INFO, JSON). */
void evb_log_configure(evb_log_level level, evb_log_format format);

/* Per-component levels overriding the global one, from "comp=level,comp=level" (e.g.
 * "store=debug,delivery=warn"; at most 16 components of at most 31 bytes). Returns 0 and
 * changes nothing when spec does not parse. NULL or "" clears the overrides. Call before
 * threads start. */
int evb_log_configure_components(const char *spec);

/* Parses "debug|info|warn|error|off"; returns -1 for anything else. */
int evb_log_level_parse(const char *s);

/* True when a record at level would be written for some component (the global level or a
 * component override lets it through). */
int evb_log_enabled(evb_log_level level);
/* True when a record at level would be written for `component`. */
int evb_log_component_enabled(evb_log_level level, const char *component);

/* Writes one record. `component` e.g. "store", "rpc"; the message is printf-formatted.
 * `ctx` is NULL or an array {key, value, key, value, ..., NULL} of context fields
 * (e.g. {"org", org, "event_id", id, NULL}); a pair whose value is NULL is skipped. */
void evb_log(evb_log_level level, const char *component, const char *const *ctx, const char *fmt,
             ...) __attribute__((format(printf, 4, 5)));

/* Sends records to fd instead of stderr (fd < 0 restores stderr). The caller keeps fd open
 * while logging. For tests and daemons that redirect their log; call before threads start. */
void evb_log_set_fd(int fd);

#define evb_log_info(comp, ...) evb_log(EVB_LOG_INFO, comp, NULL, __VA_ARGS__)
#define evb_log_warn(comp, ...) evb_log(EVB_LOG_WARN, comp, NULL, __VA_ARGS__)
#define evb_log_error(comp, ...) evb_log(EVB_LOG_ERROR, comp, NULL, __VA_ARGS__)
#define evb_log_debug(comp, ...) evb_log(EVB_LOG_DEBUG, comp, NULL, __VA_ARGS__)

#endif
