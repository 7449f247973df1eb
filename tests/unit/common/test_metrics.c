/* evbridge — unit tests for common/metrics: exposition text (HELP/TYPE, label escaping,
 * histogram buckets cumulative with +Inf = _count), definition checks, the series cap with
 * "_other" for open labels only, and counting from several threads at once. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common/metrics.h"
#include "tests/unit/common/unit.h"

static char *render(evb_metrics *r)
{
    evb_buf b;
    evb_buf_init(&b, 0);
    CU_ASSERT_EQUAL(evb_metrics_write(r, &b), EVB_OK);
    char *s = NULL;
    CU_ASSERT_EQUAL(evb_buf_detach(&b, &s, NULL), EVB_OK);
    evb_buf_fini(&b);
    return s;
}

static void test_exposition(void)
{
    evb_metrics *r = NULL;
    CU_ASSERT_EQUAL_FATAL(evb_metrics_new(&r), EVB_OK);
    static const char *const l2[] = {"method", "code", NULL};
    static const double b[] = {0.1, 1, 2.5};
    evb_metric *c =
        evb_metrics_add(r, EVB_METRIC_COUNTER, "t_calls_total", "calls \\ made", l2, NULL, 0, 0);
    evb_metric *g = evb_metrics_add(r, EVB_METRIC_GAUGE, "t_up", "up", NULL, NULL, 0, 0);
    evb_metric *h = evb_metrics_add(r, EVB_METRIC_HISTOGRAM, "t_seconds", "lat", NULL, b, 3, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    CU_ASSERT_PTR_NOT_NULL_FATAL(g);
    CU_ASSERT_PTR_NOT_NULL_FATAL(h);
    const char *v1[] = {"/a.B/C", "OK"};
    const char *v2[] = {"we\"ird\\x\ny", "NOT_FOUND"};
    evb_metric_add(c, v1, 1);
    evb_metric_add(c, v1, 2);
    evb_metric_add(c, v2, 1);
    evb_metric_add(c, v1, -5); /* ignored: counters only go up */
    evb_metric_set(g, NULL, 0.25);
    evb_metric_observe(h, NULL, 0.05);
    evb_metric_observe(h, NULL, 1);   /* le is inclusive */
    evb_metric_observe(h, NULL, 100); /* only +Inf */
    char *s = render(r);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    CU_ASSERT_PTR_NOT_NULL(strstr(s, "# HELP t_calls_total calls \\\\ made\n"
                                     "# TYPE t_calls_total counter\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(s, "t_calls_total{method=\"/a.B/C\",code=\"OK\"} 3\n"));
    CU_ASSERT_PTR_NOT_NULL(
        strstr(s, "t_calls_total{method=\"we\\\"ird\\\\x\\ny\",code=\"NOT_FOUND\"} 1\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(s, "# TYPE t_up gauge\nt_up 0.25\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(s, "t_seconds_bucket{le=\"0.1\"} 1\n"
                                     "t_seconds_bucket{le=\"1\"} 2\n"
                                     "t_seconds_bucket{le=\"2.5\"} 2\n"
                                     "t_seconds_bucket{le=\"+Inf\"} 3\n"
                                     "t_seconds_sum 101.05\n"
                                     "t_seconds_count 3\n"));
    free(s);
    evb_metrics_free(r);
}

static void test_definitions(void)
{
    evb_metrics *r = NULL;
    CU_ASSERT_EQUAL_FATAL(evb_metrics_new(&r), EVB_OK);
    static const char *const le[] = {"le", NULL};
    static const char *const bad[] = {"a-b", NULL};
    static const char *const five[] = {"a", "b", "c", "d", "e", NULL};
    static const double down[] = {2, 1};
    CU_ASSERT_PTR_NULL(evb_metrics_add(r, EVB_METRIC_COUNTER, "1x", "h", NULL, NULL, 0, 0));
    CU_ASSERT_PTR_NULL(evb_metrics_add(r, EVB_METRIC_COUNTER, "x", "two\nlines", NULL, NULL, 0, 0));
    CU_ASSERT_PTR_NULL(evb_metrics_add(r, EVB_METRIC_COUNTER, "x", "h", le, NULL, 0, 0));
    CU_ASSERT_PTR_NULL(evb_metrics_add(r, EVB_METRIC_COUNTER, "x", "h", bad, NULL, 0, 0));
    CU_ASSERT_PTR_NULL(evb_metrics_add(r, EVB_METRIC_COUNTER, "x", "h", five, NULL, 0, 0));
    CU_ASSERT_PTR_NULL(evb_metrics_add(r, EVB_METRIC_HISTOGRAM, "x", "h", NULL, NULL, 0, 0));
    CU_ASSERT_PTR_NULL(evb_metrics_add(r, EVB_METRIC_HISTOGRAM, "x", "h", NULL, down, 2, 0));
    CU_ASSERT_PTR_NOT_NULL(evb_metrics_add(r, EVB_METRIC_COUNTER, "x", "h", NULL, NULL, 0, 0));
    CU_ASSERT_PTR_NULL(evb_metrics_add(r, EVB_METRIC_GAUGE, "x", "dup", NULL, NULL, 0, 0));
    evb_metric_add(NULL, NULL, 1); /* no-ops */
    evb_metric_observe(NULL, NULL, 1);
    evb_metrics_free(r);
    evb_metrics_free(NULL);
}

static void test_series_cap(void)
{
    evb_metrics *r = NULL;
    CU_ASSERT_EQUAL_FATAL(evb_metrics_new(&r), EVB_OK);
    static const char *const labels[] = {"connector*", "reason", NULL};
    evb_metric *c =
        evb_metrics_add(r, EVB_METRIC_COUNTER, "t_rejected_total", "h", labels, NULL, 0, 10);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    char name[32];
    for (int i = 0; i < 1000; i++) {
        snprintf(name, sizeof name, "conn-%d", i);
        const char *v[] = {name, i % 2 ? "A" : "B"};
        evb_metric_add(c, v, 1);
    }
    /* 10 real series, then "_other" keeps the closed label: 2 more */
    CU_ASSERT_EQUAL(evb_metric_series_count(c), 12);
    char *s = render(r);
    CU_ASSERT_PTR_NOT_NULL(strstr(s, "t_rejected_total{connector=\"_other\",reason=\"A\"} 495\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(s, "t_rejected_total{connector=\"_other\",reason=\"B\"} 495\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(s, "t_rejected_total{connector=\"conn-0\",reason=\"B\"} 1\n"));
    free(s);
    /* a family without open labels drops what does not fit */
    static const char *const closed[] = {"code", NULL};
    evb_metric *k =
        evb_metrics_add(r, EVB_METRIC_COUNTER, "t_codes_total", "h", closed, NULL, 0, 2);
    const char *a[] = {"A"}, *b[] = {"B"}, *x[] = {"C"};
    evb_metric_add(k, a, 1);
    evb_metric_add(k, b, 1);
    evb_metric_add(k, x, 1);
    CU_ASSERT_EQUAL(evb_metric_series_count(k), 2);
    evb_metrics_free(r);
}

typedef struct worker_arg {
    evb_metric *c, *h;
    int id;
} worker_arg;

static void *worker(void *p)
{
    worker_arg *w = p;
    char name[16];
    for (int i = 0; i < 20000; i++) {
        snprintf(name, sizeof name, "c%d", i % 7);
        const char *v[] = {name};
        evb_metric_add(w->c, v, 1);
        evb_metric_observe(w->h, NULL, (double)(i % 3));
    }
    return NULL;
}

static void test_threads(void)
{
    evb_metrics *r = NULL;
    CU_ASSERT_EQUAL_FATAL(evb_metrics_new(&r), EVB_OK);
    static const char *const l[] = {"connector*", NULL};
    static const double b[] = {0.5, 1.5};
    evb_metric *c = evb_metrics_add(r, EVB_METRIC_COUNTER, "t_total", "h", l, NULL, 0, 0);
    evb_metric *h = evb_metrics_add(r, EVB_METRIC_HISTOGRAM, "t_h", "h", NULL, b, 2, 0);
    pthread_t t[8];
    worker_arg a[8];
    for (int i = 0; i < 8; i++) {
        a[i] = (worker_arg){c, h, i};
        pthread_create(&t[i], NULL, worker, &a[i]);
    }
    for (int i = 0; i < 8; i++)
        pthread_join(t[i], NULL);
    CU_ASSERT_EQUAL(evb_metric_series_count(c), 7);
    char *s = render(r);
    /* 160000 adds over 7 names: c0 gets ceil(20000/7) = 2858 per thread */
    CU_ASSERT_PTR_NOT_NULL(strstr(s, "t_total{connector=\"c0\"} 22864\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(s, "t_h_count 160000\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(s, "t_h_bucket{le=\"+Inf\"} 160000\n"));
    free(s);
    evb_metrics_free(r);
}

int main(void)
{
    static const evb_unit_case cases[] = {
        {"exposition", test_exposition},
        {"definitions", test_definitions},
        {"series_cap", test_series_cap},
        {"threads", test_threads},
        {NULL, NULL},
    };
    return evb_unit_run("common/metrics", cases);
}
