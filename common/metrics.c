/* evbridge — metrics registry and Prometheus text exposition (metrics.h).
 *
 * Each family owns a power-of-two table of series pointers (at least twice the series cap,
 * so probes stay short and "_other" sets of closed labels fit). A series, once published
 * by compare-and-swap into an empty slot, is never moved or freed until the registry is,
 * so readers (counting threads, the exposition writer) walk the table without locks.
 * Values are doubles kept as bit patterns in 64-bit atomics and updated with CAS loops;
 * histogram buckets are plain atomic counts, made cumulative only when written out.
 * Spec: https://prometheus.io/docs/instrumenting/exposition_formats/#text-based-format
 */
#include "common/metrics.h"

#include <math.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/text.h"

#define DEFAULT_MAX_SERIES 1000
#define OVERFLOW_SLACK 64

typedef struct series {
    char *vals[EVB_METRIC_MAX_LABELS];
    uint64_t hash;
    atomic_uint_fast64_t value; /* double bits: counter or gauge */
    atomic_uint_fast64_t sum;   /* double bits */
    atomic_uint_fast64_t buckets[]; /* n_bounds + 1, not cumulative */
} series;

struct evb_metric {
    struct evb_metric *next;
    evb_metric_type type;
    char *name;
    char *help;
    size_t n_labels;
    char *labels[EVB_METRIC_MAX_LABELS];
    int open[EVB_METRIC_MAX_LABELS];
    double bounds[EVB_METRIC_MAX_BUCKETS];
    size_t n_bounds;
    size_t max_series;
    atomic_size_t n_series;
    size_t mask; /* slots - 1 */
    _Atomic(series *) *slots;
};

struct evb_metrics {
    evb_metric *head, *tail;
};

/* ---- doubles in atomics ---- */

static uint64_t d2u(double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    return u;
}

static double u2d(uint64_t u)
{
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

static void atomic_add_double(atomic_uint_fast64_t *a, double v)
{
    uint_fast64_t old = atomic_load_explicit(a, memory_order_relaxed);
    while (!atomic_compare_exchange_weak_explicit(a, &old, d2u(u2d(old) + v),
                                                  memory_order_relaxed, memory_order_relaxed))
        ;
}

/* ---- registry ---- */

evb_err evb_metrics_new(evb_metrics **out)
{
    evb_metrics *r = calloc(1, sizeof *r);
    if (r == NULL)
        return EVB_ERR_NOMEM;
    *out = r;
    return EVB_OK;
}

static void series_free(series *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < EVB_METRIC_MAX_LABELS; i++)
        free(s->vals[i]);
    free(s);
}

static void family_free(evb_metric *m)
{
    if (m == NULL)
        return;
    for (size_t i = 0; m->slots != NULL && i <= m->mask; i++) {
        series *s = atomic_load(&m->slots[i]);
        if (s != NULL)
            series_free(s);
    }
    free((void *)m->slots);
    for (size_t i = 0; i < m->n_labels; i++)
        free(m->labels[i]);
    free(m->name);
    free(m->help);
    free(m);
}

void evb_metrics_free(evb_metrics *r)
{
    if (r == NULL)
        return;
    evb_metric *m = r->head;
    while (m != NULL) {
        evb_metric *next = m->next;
        family_free(m);
        m = next;
    }
    free(r);
}

static int valid_name(const char *s, int colons)
{
    if (s == NULL || *s == '\0' || (*s >= '0' && *s <= '9'))
        return 0;
    for (; *s; s++) {
        char c = *s;
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '_' || (colons && c == ':');
        if (!ok)
            return 0;
    }
    return 1;
}

static int set_labels(evb_metric *m, const char *const *labels)
{
    for (size_t i = 0; labels != NULL && labels[i] != NULL; i++) {
        if (i == EVB_METRIC_MAX_LABELS)
            return 0;
        size_t n = strlen(labels[i]);
        int open = n > 0 && labels[i][n - 1] == '*';
        m->labels[i] = evb_strndup(labels[i], open ? n - 1 : n);
        m->n_labels = i + 1;
        m->open[i] = open;
        if (m->labels[i] == NULL || !valid_name(m->labels[i], 0) ||
            strcmp(m->labels[i], "le") == 0)
            return 0;
    }
    return 1;
}

static int name_taken(const evb_metrics *r, const char *name)
{
    for (const evb_metric *m = r->head; m != NULL; m = m->next)
        if (strcmp(m->name, name) == 0)
            return 1;
    return 0;
}

evb_metric *evb_metrics_add(evb_metrics *r, evb_metric_type type, const char *name,
                            const char *help, const char *const *labels, const double *bounds,
                            size_t n_bounds, size_t max_series)
{
    if (r == NULL || !valid_name(name, 1) || name_taken(r, name) || help == NULL ||
        strchr(help, '\n') != NULL || (int)type < 0 || type > EVB_METRIC_HISTOGRAM)
        return NULL;
    if (type == EVB_METRIC_HISTOGRAM &&
        (bounds == NULL || n_bounds == 0 || n_bounds > EVB_METRIC_MAX_BUCKETS))
        return NULL;
    evb_metric *m = calloc(1, sizeof *m);
    if (m == NULL)
        return NULL;
    m->type = type;
    m->name = evb_strdup(name);
    m->help = evb_strdup(help);
    if (m->name == NULL || m->help == NULL || !set_labels(m, labels))
        goto fail;
    if (type == EVB_METRIC_HISTOGRAM) {
        for (size_t i = 0; i < n_bounds; i++) {
            if (!isfinite(bounds[i]) || (i > 0 && bounds[i] <= bounds[i - 1]))
                goto fail;
            m->bounds[i] = bounds[i];
        }
        m->n_bounds = n_bounds;
    }
    m->max_series = m->n_labels == 0 ? 1 : max_series ? max_series : DEFAULT_MAX_SERIES;
    size_t slots = 16;
    while (slots < 2 * (m->max_series + OVERFLOW_SLACK))
        slots *= 2;
    m->mask = slots - 1;
    m->slots = calloc(slots, sizeof *m->slots);
    if (m->slots == NULL)
        goto fail;
    for (size_t i = 0; i < slots; i++)
        atomic_init(&m->slots[i], NULL);
    atomic_init(&m->n_series, 0);
    if (r->tail != NULL)
        r->tail->next = m;
    else
        r->head = m;
    r->tail = m;
    return m;
fail:
    family_free(m);
    return NULL;
}

/* ---- series lookup ---- */

static uint64_t hash_values(const evb_metric *m, const char *const *v)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (size_t i = 0; i < m->n_labels; i++) {
        for (const unsigned char *p = (const unsigned char *)v[i]; *p; p++) {
            h ^= *p;
            h *= 1099511628211ULL;
        }
        h ^= 0xff;
        h *= 1099511628211ULL;
    }
    return h;
}

static int same_values(const evb_metric *m, const series *s, const char *const *v)
{
    for (size_t i = 0; i < m->n_labels; i++)
        if (strcmp(s->vals[i], v[i]) != 0)
            return 0;
    return 1;
}

static series *series_new(const evb_metric *m, const char *const *v, uint64_t h)
{
    size_t nb = m->type == EVB_METRIC_HISTOGRAM ? m->n_bounds + 1 : 0;
    series *s = calloc(1, sizeof *s + nb * sizeof s->buckets[0]);
    if (s == NULL)
        return NULL;
    s->hash = h;
    atomic_init(&s->value, d2u(0.0));
    atomic_init(&s->sum, d2u(0.0));
    for (size_t i = 0; i < nb; i++)
        atomic_init(&s->buckets[i], 0);
    for (size_t i = 0; i < m->n_labels; i++) {
        s->vals[i] = evb_strdup(v[i]);
        if (s->vals[i] == NULL) {
            series_free(s);
            return NULL;
        }
    }
    return s;
}

/* Finds or creates the series; NULL when out of memory or the table is full. */
static series *lookup(evb_metric *m, const char *const *values, int overflow)
{
    const char *v[EVB_METRIC_MAX_LABELS] = {0};
    for (size_t i = 0; i < m->n_labels; i++) {
        const char *x = values != NULL && values[i] != NULL ? values[i] : "";
        v[i] = overflow && m->open[i] ? EVB_METRIC_OTHER : x;
    }
    uint64_t h = hash_values(m, v);
    series *mine = NULL;
    for (size_t probe = 0; probe <= m->mask; probe++) {
        _Atomic(series *) *slot = &m->slots[(h + probe) & m->mask];
        series *s = atomic_load_explicit(slot, memory_order_acquire);
        if (s == NULL) {
            if (!overflow && atomic_load(&m->n_series) >= m->max_series) {
                int any_open = 0;
                for (size_t i = 0; i < m->n_labels; i++)
                    any_open |= m->open[i];
                series_free(mine);
                return any_open ? lookup(m, values, 1) : NULL;
            }
            if (mine == NULL && (mine = series_new(m, v, h)) == NULL)
                return NULL;
            series *expected = NULL;
            if (atomic_compare_exchange_strong_explicit(slot, &expected, mine,
                                                        memory_order_acq_rel,
                                                        memory_order_acquire)) {
                if (!overflow)
                    atomic_fetch_add(&m->n_series, 1);
                return mine;
            }
            s = expected; /* another thread filled the slot first */
        }
        if (s->hash == h && same_values(m, s, v)) {
            series_free(mine);
            return s;
        }
    }
    series_free(mine);
    return NULL;
}

void evb_metric_add(evb_metric *m, const char *const *values, double v)
{
    if (m == NULL || m->type == EVB_METRIC_HISTOGRAM || isnan(v) ||
        (m->type == EVB_METRIC_COUNTER && v < 0))
        return;
    series *s = lookup(m, values, 0);
    if (s != NULL)
        atomic_add_double(&s->value, v);
}

void evb_metric_set(evb_metric *m, const char *const *values, double v)
{
    if (m == NULL || m->type == EVB_METRIC_HISTOGRAM || isnan(v))
        return;
    series *s = lookup(m, values, 0);
    if (s != NULL)
        atomic_store_explicit(&s->value, d2u(v), memory_order_relaxed);
}

void evb_metric_observe(evb_metric *m, const char *const *values, double v)
{
    if (m == NULL || m->type != EVB_METRIC_HISTOGRAM || isnan(v))
        return;
    series *s = lookup(m, values, 0);
    if (s == NULL)
        return;
    size_t b = 0;
    while (b < m->n_bounds && v > m->bounds[b])
        b++;
    atomic_fetch_add_explicit(&s->buckets[b], 1, memory_order_relaxed);
    atomic_add_double(&s->sum, v);
}

long evb_metric_series_count(const evb_metric *m)
{
    if (m == NULL)
        return -1;
    long n = 0;
    for (size_t i = 0; i <= m->mask; i++)
        n += atomic_load(&m->slots[i]) != NULL;
    return n;
}

/* ---- exposition ---- */

/* Shortest text that reads back as v (Go's strconv 'g' -1 style), or +Inf/-Inf/NaN. */
static void fmt_num(char *out, size_t n, double v)
{
    if (isnan(v)) {
        snprintf(out, n, "NaN");
        return;
    }
    if (isinf(v)) {
        snprintf(out, n, v > 0 ? "+Inf" : "-Inf");
        return;
    }
    if (v == floor(v) && fabs(v) < 1e15) {
        snprintf(out, n, "%lld", (long long)v);
        return;
    }
    for (int p = 1; p <= 17; p++) {
        snprintf(out, n, "%.*g", p, v);
        if (strtod(out, NULL) == v)
            return;
    }
}

static evb_err put_escaped(evb_buf *b, const char *s, int quote)
{
    evb_err rc = EVB_OK;
    if (!evb_utf8_valid(s, strlen(s)))
        s = "_invalid_utf8";
    for (; *s && rc == EVB_OK; s++) {
        if (*s == '\\')
            rc = evb_buf_append(b, "\\\\", 2);
        else if (*s == '\n')
            rc = evb_buf_append(b, "\\n", 2);
        else if (quote && *s == '"')
            rc = evb_buf_append(b, "\\\"", 2);
        else if ((unsigned char)*s < 0x20)
            rc = evb_buf_append(b, "?", 1);
        else
            rc = evb_buf_append(b, s, 1);
    }
    return rc;
}

/* `{a="x",b="y"` plus an optional le, then `}`; nothing when there are no labels. */
static evb_err put_labels(evb_buf *b, const evb_metric *m, const series *s, const char *le)
{
    if (m->n_labels == 0 && le == NULL)
        return EVB_OK;
    evb_err rc = evb_buf_append(b, "{", 1);
    for (size_t i = 0; rc == EVB_OK && i < m->n_labels; i++) {
        rc = evb_buf_printf(b, "%s%s=\"", i ? "," : "", m->labels[i]);
        if (rc == EVB_OK)
            rc = put_escaped(b, s->vals[i], 1);
        if (rc == EVB_OK)
            rc = evb_buf_append(b, "\"", 1);
    }
    if (rc == EVB_OK && le != NULL)
        rc = evb_buf_printf(b, "%sle=\"%s\"", m->n_labels ? "," : "", le);
    if (rc == EVB_OK)
        rc = evb_buf_append(b, "}", 1);
    return rc;
}

static evb_err put_sample(evb_buf *b, const evb_metric *m, const series *s, const char *suffix,
                          const char *le, double v)
{
    char num[40];
    fmt_num(num, sizeof num, v);
    evb_err rc = evb_buf_printf(b, "%s%s", m->name, suffix);
    if (rc == EVB_OK)
        rc = put_labels(b, m, s, le);
    if (rc == EVB_OK)
        rc = evb_buf_printf(b, " %s\n", num);
    return rc;
}

static evb_err put_series(evb_buf *b, const evb_metric *m, const series *s)
{
    if (m->type != EVB_METRIC_HISTOGRAM)
        return put_sample(b, m, s, "", NULL, u2d(atomic_load(&s->value)));
    /* _count is written as the bucket total, so it always equals the +Inf bucket even
     * while observations land concurrently */
    uint64_t cum = 0;
    evb_err rc = EVB_OK;
    for (size_t i = 0; rc == EVB_OK && i < m->n_bounds; i++) {
        char le[40];
        fmt_num(le, sizeof le, m->bounds[i]);
        cum += atomic_load(&s->buckets[i]);
        rc = put_sample(b, m, s, "_bucket", le, (double)cum);
    }
    cum += atomic_load(&s->buckets[m->n_bounds]);
    if (rc == EVB_OK)
        rc = put_sample(b, m, s, "_bucket", "+Inf", (double)cum);
    if (rc == EVB_OK)
        rc = put_sample(b, m, s, "_sum", NULL, u2d(atomic_load(&s->sum)));
    if (rc == EVB_OK)
        rc = put_sample(b, m, s, "_count", NULL, (double)cum);
    return rc;
}

evb_err evb_metrics_write(const evb_metrics *r, evb_buf *out)
{
    static const char *const type_names[] = {"counter", "gauge", "histogram"};
    if (r == NULL || out == NULL)
        return EVB_ERR_INVALID;
    evb_err rc = EVB_OK;
    for (const evb_metric *m = r->head; rc == EVB_OK && m != NULL; m = m->next) {
        rc = evb_buf_printf(out, "# HELP %s ", m->name);
        if (rc == EVB_OK)
            rc = put_escaped(out, m->help, 0);
        if (rc == EVB_OK)
            rc = evb_buf_printf(out, "\n# TYPE %s %s\n", m->name, type_names[m->type]);
        if (rc == EVB_OK && m->n_labels == 0) {
            /* an unlabelled family always has its one series (at 0 until touched) */
            series *s = lookup((evb_metric *)m, NULL, 0);
            rc = s != NULL ? put_series(out, m, s) : EVB_ERR_NOMEM;
            continue;
        }
        for (size_t i = 0; rc == EVB_OK && i <= m->mask; i++) {
            const series *s = atomic_load_explicit(&m->slots[i], memory_order_acquire);
            if (s != NULL)
                rc = put_series(out, m, s);
        }
    }
    return rc;
}
