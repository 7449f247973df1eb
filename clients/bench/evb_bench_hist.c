/* evb-bench — latency histograms and the clock.
 *
 * Log-linear buckets (the HdrHistogram idea, fixed size): values in microseconds below 64
 * are exact; above, each power of two is split into 32 buckets, so a quantile is off by at
 * most ~3 %. Adding a sample is a few instructions and no allocation, so every call of every
 * worker is recorded (per-thread histograms, merged at the end).
 */
#include "evb_bench.h"

#include <string.h>
#include <time.h>

int64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void index_of(uint64_t us, int *e, int *s)
{
    if (us < BENCH_HIST_SUB) {
        *e = 0;
        *s = (int)us;
        return;
    }
    int msb = 63 - __builtin_clzll(us);
    int shift = msb - 5;
    *e = shift + 1;
    *s = (int)(us >> shift);
    if (*e >= BENCH_HIST_EXP) {
        *e = BENCH_HIST_EXP - 1;
        *s = BENCH_HIST_SUB - 1;
    }
}

static double value_of(int e, int s)
{
    if (e == 0)
        return (double)s + 0.5;
    int shift = e - 1;
    return ((double)((uint64_t)s << shift) + (double)((uint64_t)1 << shift) / 2.0);
}

void bench_hist_add(bench_hist *h, int64_t ns)
{
    if (ns < 0)
        ns = 0;
    int e, s;
    index_of((uint64_t)ns / 1000, &e, &s);
    h->b[e][s]++;
    h->count++;
    h->sum_ns += (double)ns;
    if (ns > h->max_ns)
        h->max_ns = ns;
}

void bench_hist_merge(bench_hist *into, const bench_hist *from)
{
    for (int e = 0; e < BENCH_HIST_EXP; e++)
        for (int s = 0; s < BENCH_HIST_SUB; s++)
            into->b[e][s] += from->b[e][s];
    into->count += from->count;
    into->sum_ns += from->sum_ns;
    if (from->max_ns > into->max_ns)
        into->max_ns = from->max_ns;
}

double bench_hist_quantile_ms(const bench_hist *h, double q)
{
    if (h->count == 0)
        return 0;
    uint64_t rank = (uint64_t)(q * (double)h->count);
    if (rank >= h->count)
        rank = h->count - 1;
    uint64_t seen = 0;
    for (int e = 0; e < BENCH_HIST_EXP; e++)
        for (int s = 0; s < BENCH_HIST_SUB; s++) {
            seen += h->b[e][s];
            if (seen > rank) {
                double v = value_of(e, s) / 1000.0;
                double mx = (double)h->max_ns / 1e6;
                return v < mx ? v : mx;
            }
        }
    return (double)h->max_ns / 1e6;
}

double bench_hist_mean_ms(const bench_hist *h)
{
    return h->count ? h->sum_ns / (double)h->count / 1e6 : 0;
}
