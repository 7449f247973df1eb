/* evbridge — metrics: counters, gauges and fixed-bucket histograms with bounded label sets,
 * written in the Prometheus text exposition format (version 0.0.4).
 *
 * A registry holds metric families, created up front (before threads start) with their
 * label names, bucket bounds and a cap on distinct label-value sets (series). Series are
 * created on first use in a fixed-size open-addressing table (insert by compare-and-swap,
 * lookup without locks); values are atomics, so counting from any thread never blocks and
 * never allocates after a series exists. Labels whose values come from users (a connector
 * name, an org id) are declared "open" by ending the label name with '*': once a family
 * holds max_series series, new sets get "_other" for every open label (closed labels,
 * small enumerations such as a status code, keep their value), so memory and exposition
 * size stay bounded whatever callers send. Libraries may count; they never log.
 * Spec: https://prometheus.io/docs/instrumenting/exposition_formats/
 */
#ifndef EVB_COMMON_METRICS_H
#define EVB_COMMON_METRICS_H

#include <stddef.h>

#include "common/buf.h"
#include "common/err.h"

typedef struct evb_metrics evb_metrics; /* a registry */
typedef struct evb_metric evb_metric;   /* one family */

typedef enum evb_metric_type {
    EVB_METRIC_COUNTER = 0,
    EVB_METRIC_GAUGE,
    EVB_METRIC_HISTOGRAM
} evb_metric_type;

#define EVB_METRIC_MAX_LABELS 4
#define EVB_METRIC_MAX_BUCKETS 32
#define EVB_METRIC_OTHER "_other" /* the value of an open label past the series cap */

/* A new empty registry. EVB_ERR_NOMEM. */
evb_err evb_metrics_new(evb_metrics **out);
/* Frees the registry and its families. No other thread may use it any more. NULL no-op. */
void evb_metrics_free(evb_metrics *r);

/* Adds a family. name: [a-zA-Z_:][a-zA-Z0-9_:]*; help: one line; labels: NULL or a
 * NULL-terminated array of at most EVB_METRIC_MAX_LABELS names ([a-zA-Z_][a-zA-Z0-9_]*,
 * not "le"), a trailing '*' marking an open label (not part of the name). bounds: for
 * histograms, 1..EVB_METRIC_MAX_BUCKETS strictly increasing finite upper bounds (+Inf is
 * implied); NULL otherwise. max_series: cap on series (0 = 1000). Returns the family
 * (owned by the registry) or NULL for an invalid definition, a duplicate name or no memory.
 * Not thread-safe: add every family before the registry is shared. */
evb_metric *evb_metrics_add(evb_metrics *r, evb_metric_type type, const char *name,
                            const char *help, const char *const *labels, const double *bounds,
                            size_t n_bounds, size_t max_series);

/* Label values are given as an array with one entry per label, in declaration order (NULL
 * for a family without labels; a NULL entry counts as ""). Every function below is
 * thread-safe, lock-free and a no-op when m is NULL (so code runs without a registry). */

/* Counter: adds v (>= 0; negative values are ignored). Gauge: adds v (may be negative). */
void evb_metric_add(evb_metric *m, const char *const *values, double v);
/* Gauge: sets the value. Counter: sets it too, for counters collected elsewhere (e.g. CPU
 * seconds read from /proc); never use both add and set on one counter. Ignored for
 * histograms. */
void evb_metric_set(evb_metric *m, const char *const *values, double v);
/* Histogram: records one observation. Ignored for other types. */
void evb_metric_observe(evb_metric *m, const char *const *values, double v);

/* Appends the exposition of every family, in registration order, to out. Families without
 * labels always show (at 0 when never touched); families with labels show their series.
 * EVB_ERR_NOMEM / EVB_ERR_TOO_LARGE from the buffer. Thread-safe against counting. */
evb_err evb_metrics_write(const evb_metrics *r, evb_buf *out);

/* The series of a family (for tests); -1 when m is NULL. */
long evb_metric_series_count(const evb_metric *m);

#endif
