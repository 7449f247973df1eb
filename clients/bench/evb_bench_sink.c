/* evb-bench — the HTTP receiver that deliveries are sent to (an HTTP action on loopback).
 *
 * One thread, epoll, non-blocking sockets, HTTP/1.1 keep-alive (and pipelining: several
 * requests in one read are answered in order). Each request is parsed just enough: the
 * header block, Content-Length (bodies are skipped, chunked bodies are not expected from
 * libcurl with a known size), "Expect: 100-continue", and the publish timestamp — the
 * `benchts` extension the publisher put on every event, which arrives as the `ce-benchts`
 * header in binary mode or as a "benchts" member of a structured body. End-to-end latency is
 * receipt time minus that timestamp (both CLOCK_MONOTONIC on one machine). Every request is
 * answered 200 with an empty body. Buffers are capped (1 MiB per connection): a bigger
 * request closes the connection.
 */
#include "evb_bench.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#define CONN_CAP (1u << 20)

typedef struct conn {
    struct conn *prev, *next; /* the sink's open connections, closed at stop */
    int fd;
    char *buf;
    size_t len, cap;
    int continued; /* 100 Continue sent for the request at the head of buf */
} conn;

struct bench_sink {
    int lfd, efd, wake;
    pthread_t tid;
    pthread_mutex_t mu;
    _Atomic int64_t win_open, win_close; /* ns; 0 = not yet */
    _Atomic uint64_t total;
    uint64_t delivered, no_ts;
    bench_hist e2e;
    int64_t opened_at, closed_at;
    conn *conns; /* sink thread only */
};

static void conn_unlink(bench_sink *s, conn *c)
{
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
}

static void conn_close(conn *c)
{
    close(c->fd);
    free(c->buf);
    free(c);
}

static int send_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                /* responses are tiny; wait briefly for room rather than buffer */
                usleep(100);
                continue;
            }
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Header value of `name` (case-insensitive) within [h, end), or NULL; *vlen its length. */
static const char *header(const char *h, const char *end, const char *name, size_t *vlen)
{
    size_t nl = strlen(name);
    const char *p = h;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (eol == NULL)
            eol = end;
        if ((size_t)(eol - p) > nl && p[nl] == ':' && strncasecmp(p, name, nl) == 0) {
            const char *v = p + nl + 1;
            while (v < eol && (*v == ' ' || *v == '\t'))
                v++;
            const char *ve = eol;
            while (ve > v && (ve[-1] == '\r' || ve[-1] == ' '))
                ve--;
            *vlen = (size_t)(ve - v);
            return v;
        }
        p = eol + 1;
    }
    return NULL;
}

static int64_t parse_i64(const char *v, size_t n)
{
    int64_t x = 0;
    for (size_t i = 0; i < n && v[i] >= '0' && v[i] <= '9'; i++)
        x = x * 10 + (v[i] - '0');
    return x;
}

static void record(bench_sink *s, int64_t ts_us)
{
    int64_t now = bench_now_ns();
    atomic_fetch_add(&s->total, 1);
    int64_t o = atomic_load(&s->win_open), c = atomic_load(&s->win_close);
    if (o == 0 || now < o || (c != 0 && now > c))
        return;
    pthread_mutex_lock(&s->mu);
    s->delivered++;
    if (ts_us > 0)
        bench_hist_add(&s->e2e, now - ts_us * 1000);
    else
        s->no_ts++;
    pthread_mutex_unlock(&s->mu);
}

static const char *find_str(const char *h, size_t n, const char *needle)
{
    size_t m = strlen(needle);
    for (size_t i = 0; m <= n && i <= n - m; i++)
        if (h[i] == needle[0] && memcmp(h + i, needle, m) == 0)
            return h + i;
    return NULL;
}

/* Parses and answers every complete request in c->buf. -1 = close the connection. */
static int serve(bench_sink *s, conn *c)
{
    static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
    static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
    size_t off = 0;
    for (;;) {
        const char *h = c->buf + off;
        size_t avail = c->len - off;
        const char *eoh = find_str(h, avail, "\r\n\r\n");
        if (eoh == NULL)
            break;
        size_t hlen = (size_t)(eoh - h) + 4, vlen;
        const char *v = header(h, eoh, "content-length", &vlen);
        size_t body = v ? (size_t)parse_i64(v, vlen) : 0;
        if (body > CONN_CAP)
            return -1;
        if (avail < hlen + body) {
            if (!c->continued && header(h, eoh, "expect", &vlen) != NULL) {
                c->continued = 1;
                if (send_all(c->fd, cont, sizeof cont - 1) != 0)
                    return -1;
            }
            break;
        }
        int64_t ts = 0;
        v = header(h, eoh, "ce-benchts", &vlen);
        if (v != NULL) {
            ts = parse_i64(v, vlen);
        } else {
            const char *b = find_str(eoh + 4, body, "\"benchts\":\"");
            if (b != NULL)
                ts = parse_i64(b + 11, body - (size_t)(b + 11 - (eoh + 4)));
        }
        record(s, ts);
        if (send_all(c->fd, ok, sizeof ok - 1) != 0)
            return -1;
        c->continued = 0;
        off += hlen + body;
    }
    if (off > 0) {
        memmove(c->buf, c->buf + off, c->len - off);
        c->len -= off;
    }
    return 0;
}

static int conn_read(bench_sink *s, conn *c)
{
    for (;;) {
        if (c->cap - c->len < 16384) {
            size_t cap = c->cap ? c->cap * 2 : 65536;
            if (cap > CONN_CAP + 65536)
                return -1;
            char *p = realloc(c->buf, cap);
            if (p == NULL)
                return -1;
            c->buf = p;
            c->cap = cap;
        }
        ssize_t n = recv(c->fd, c->buf + c->len, c->cap - c->len, 0);
        if (n == 0)
            return -1;
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return 0;
            return -1;
        }
        c->len += (size_t)n;
        if (serve(s, c) != 0)
            return -1;
    }
}

static void *sink_main(void *arg)
{
    bench_sink *s = arg;
    struct epoll_event evs[64];
    for (;;) {
        int n = epoll_wait(s->efd, evs, 64, -1);
        if (n < 0 && errno == EINTR)
            continue;
        for (int i = 0; i < n; i++) {
            if (evs[i].data.ptr == NULL) { /* stop */
                return NULL;
            } else if (evs[i].data.ptr == (void *)s) { /* accept */
                for (;;) {
                    int fd = accept(s->lfd, NULL, NULL);
                    if (fd < 0)
                        break;
                    fcntl(fd, F_SETFL, O_NONBLOCK);
                    fcntl(fd, F_SETFD, FD_CLOEXEC);
                    int one = 1;
                    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    conn *c = calloc(1, sizeof *c);
                    if (c == NULL) {
                        close(fd);
                        continue;
                    }
                    c->fd = fd;
                    struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = c};
                    if (epoll_ctl(s->efd, EPOLL_CTL_ADD, fd, &ev) != 0) {
                        conn_close(c);
                        continue;
                    }
                    c->next = s->conns;
                    if (s->conns != NULL)
                        s->conns->prev = c;
                    s->conns = c;
                }
            } else {
                conn *c = evs[i].data.ptr;
                if (conn_read(s, c) != 0 || (evs[i].events & (EPOLLHUP | EPOLLERR))) {
                    epoll_ctl(s->efd, EPOLL_CTL_DEL, c->fd, NULL);
                    conn_unlink(s, c);
                    conn_close(c);
                }
            }
        }
    }
}

int bench_sink_start(int port, bench_sink **out, int *port_out)
{
    bench_sink *s = calloc(1, sizeof *s);
    if (s == NULL)
        return -1;
    pthread_mutex_init(&s->mu, NULL);
    s->lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(s->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof a;
    if (s->lfd < 0 || bind(s->lfd, (struct sockaddr *)&a, sizeof a) != 0 ||
        listen(s->lfd, 256) != 0 || getsockname(s->lfd, (struct sockaddr *)&a, &al) != 0)
        goto fail;
    s->efd = epoll_create1(EPOLL_CLOEXEC);
    s->wake = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (s->efd < 0 || s->wake < 0)
        goto fail;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = s};
    struct epoll_event wk = {.events = EPOLLIN, .data.ptr = NULL};
    if (epoll_ctl(s->efd, EPOLL_CTL_ADD, s->lfd, &ev) != 0 ||
        epoll_ctl(s->efd, EPOLL_CTL_ADD, s->wake, &wk) != 0)
        goto fail;
    if (pthread_create(&s->tid, NULL, sink_main, s) != 0)
        goto fail;
    *port_out = ntohs(a.sin_port);
    *out = s;
    return 0;
fail:
    if (s->lfd >= 0)
        close(s->lfd);
    free(s);
    return -1;
}

void bench_sink_window_open(bench_sink *s)
{
    pthread_mutex_lock(&s->mu);
    s->delivered = s->no_ts = 0;
    memset(&s->e2e, 0, sizeof s->e2e);
    s->opened_at = bench_now_ns();
    s->closed_at = 0;
    atomic_store(&s->win_close, 0);
    atomic_store(&s->win_open, s->opened_at);
    pthread_mutex_unlock(&s->mu);
}

void bench_sink_window_close(bench_sink *s)
{
    pthread_mutex_lock(&s->mu);
    s->closed_at = bench_now_ns();
    atomic_store(&s->win_close, s->closed_at);
    pthread_mutex_unlock(&s->mu);
}

uint64_t bench_sink_total(bench_sink *s)
{
    return atomic_load(&s->total);
}

void bench_sink_report(bench_sink *s, uint64_t *delivered, double *window_s, bench_hist *e2e,
                       uint64_t *no_ts)
{
    pthread_mutex_lock(&s->mu);
    *delivered = s->delivered;
    *no_ts = s->no_ts;
    int64_t end = s->closed_at ? s->closed_at : bench_now_ns();
    *window_s = s->opened_at ? (double)(end - s->opened_at) / 1e9 : 0;
    memcpy(e2e, &s->e2e, sizeof *e2e);
    pthread_mutex_unlock(&s->mu);
}

void bench_sink_stop(bench_sink *s)
{
    if (s == NULL)
        return;
    uint64_t one = 1;
    if (write(s->wake, &one, sizeof one) < 0) {
        /* the thread is still woken by the close below at worst */
    }
    pthread_join(s->tid, NULL);
    while (s->conns != NULL) { /* keep-alive connections still open */
        conn *c = s->conns;
        conn_unlink(s, c);
        conn_close(c);
    }
    close(s->lfd);
    close(s->efd);
    close(s->wake);
    pthread_mutex_destroy(&s->mu);
    free(s);
}
