/* evbridge — PostgreSQL backend: the connection pool, statements with parameters, result
 * decoding, SQLSTATE mapping and transactions with retry. Contract in pg_int.h.
 *
 * Statements with parameters go out as prepared statements, in text format (bytea
 * parameters in binary), one round trip each: the first use of a statement text on a
 * connection prepares it under a name derived from a 64-bit hash of the text, remembered in
 * a small set attached to the connection (libpq instance data, freed with the connection),
 * so planning is paid once per connection instead of once per call (about 4x cheaper for a
 * put). A connection whose set is full, or a statement that fails to prepare, simply runs
 * unprepared (PQexecParams), which also reports the error. (Poolers in transaction mode
 * that do not keep prepared statements per session are therefore not supported.)
 * Connections that are broken or left inside a transaction are closed rather than pooled,
 * so a borrower always gets an idle, healthy session (or a fresh one).
 */
#include "server/store/pg_int.h"

#include "common/log.h"

#include <libpq-events.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TX_ATTEMPTS 8

/* ---- prepared statements (see the top) ---- */

#define PREP_SLOTS 512 /* open addressing; filled to 3/4 at most */

typedef struct prep_set {
    uint64_t h[PREP_SLOTS]; /* 0 = free */
    int n;
} prep_set;

static int prep_event(PGEventId id, void *info, void *pass)
{
    (void)pass;
    if (id == PGEVT_CONNDESTROY) {
        const PGEventConnDestroy *e = info;
        free(PQinstanceData(e->conn, prep_event));
    } else if (id == PGEVT_CONNRESET) { /* a new session knows no statements */
        const PGEventConnReset *e = info;
        prep_set *s = PQinstanceData(e->conn, prep_event);
        if (s != NULL)
            memset(s, 0, sizeof *s);
    }
    return 1;
}

/* Attaches an empty set to c; without one (allocation failure) c runs unprepared. */
static void prep_attach(PGconn *c)
{
    prep_set *s = calloc(1, sizeof *s);
    if (s == NULL)
        return;
    if (!PQregisterEventProc(c, prep_event, "evb-prepared", NULL) ||
        !PQsetInstanceData(c, prep_event, s))
        free(s);
}

static uint64_t text_hash(const char *t)
{
    uint64_t h = 14695981039346656037ULL; /* FNV-1a */
    for (; *t != '\0'; t++)
        h = (h ^ (unsigned char)*t) * 1099511628211ULL;
    return h != 0 ? h : 1;
}

/* The prepared name of sql on c ("evb_<hash>"), preparing it first when needed. Returns 0
 * when it should run unprepared. */
static int prepared_name(PGconn *c, const char *sql, const pg_params *p, char name[24])
{
    prep_set *s = PQinstanceData(c, prep_event);
    if (s == NULL)
        return 0;
    uint64_t h = text_hash(sql);
    snprintf(name, 24, "evb_%016llx", (unsigned long long)h);
    size_t i = (size_t)(h % PREP_SLOTS);
    while (s->h[i] != 0) {
        if (s->h[i] == h)
            return 1;
        i = (i + 1) % PREP_SLOTS;
    }
    if (s->n >= PREP_SLOTS * 3 / 4)
        return 0;
    PGresult *r = PQprepare(c, name, sql, p->n, NULL);
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    if (!ok)
        return 0; /* PQexecParams reports the error */
    s->h[i] = h;
    s->n++;
    return 1;
}

/* ---- pool ---- */

evb_err pg_connect(pg_store *ps, PGconn **out, evb_error *err)
{
    *out = NULL;
    PGconn *c = PQconnectdb(ps->url);
    if (c == NULL) {
        evb_error_set(err, EVB_ERR_NOMEM, NULL, "out of memory");
        return EVB_ERR_NOMEM;
    }
    if (PQstatus(c) != CONNECTION_OK) {
        /* PQerrorMessage names host and port, never the password. */
        char msg[256];
        snprintf(msg, sizeof msg, "%s", PQerrorMessage(c));
        msg[strcspn(msg, "\n")] = '\0';
        evb_error_set(err, EVB_ERR_UNAVAILABLE, "store", "cannot connect to PostgreSQL: %s", msg);
        PQfinish(c);
        return EVB_ERR_UNAVAILABLE;
    }
    /* Short statements; a stuck lock should not hang a request for ever. */
    /* Warnings and errors only: libpq would print NOTICEs (e.g. "already exists,
     * skipping") on stderr. */
    PGresult *r = PQexec(c, "SET statement_timeout = '30s'; SET lock_timeout = '10s'; "
                            "SET client_min_messages = warning");
    int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    if (!ok) {
        evb_error_set(err, EVB_ERR_UNAVAILABLE, "store", "cannot set up a PostgreSQL session");
        PQfinish(c);
        return EVB_ERR_UNAVAILABLE;
    }
    prep_attach(c);
    *out = c;
    return EVB_OK;
}

evb_err pg_conn_get(pg_store *ps, PGconn **out)
{
    pthread_mutex_lock(&ps->pmu);
    for (;;) {
        if (ps->n_idle > 0) {
            *out = ps->idle[--ps->n_idle];
            pthread_mutex_unlock(&ps->pmu);
            return EVB_OK;
        }
        if (ps->n_open < PG_POOL_MAX)
            break;
        pthread_cond_wait(&ps->pcv, &ps->pmu);
    }
    ps->n_open++;
    pthread_mutex_unlock(&ps->pmu);
    evb_error e;
    evb_error_clear(&e);
    evb_err rc = pg_connect(ps, out, &e);
    if (rc != EVB_OK) {
        evb_log_warn("store", "%s", e.message);
        pthread_mutex_lock(&ps->pmu);
        ps->n_open--;
        pthread_cond_signal(&ps->pcv);
        pthread_mutex_unlock(&ps->pmu);
    }
    return rc;
}

void pg_conn_put(pg_store *ps, PGconn *c)
{
    if (c == NULL)
        return;
    int healthy = PQstatus(c) == CONNECTION_OK && PQtransactionStatus(c) == PQTRANS_IDLE;
    if (!healthy)
        PQfinish(c);
    pthread_mutex_lock(&ps->pmu);
    if (healthy && ps->n_idle < PG_POOL_MAX)
        ps->idle[ps->n_idle++] = c;
    else
        ps->n_open--;
    pthread_cond_signal(&ps->pcv);
    pthread_mutex_unlock(&ps->pmu);
}

void pg_pool_close(pg_store *ps)
{
    pthread_mutex_lock(&ps->pmu);
    for (int i = 0; i < ps->n_idle; i++)
        PQfinish(ps->idle[i]);
    ps->n_open -= ps->n_idle;
    ps->n_idle = 0;
    pthread_mutex_unlock(&ps->pmu);
}

/* ---- parameters ---- */

void pg_params_init(pg_params *p)
{
    p->n = 0;
}

static int slot(pg_params *p)
{
    if (p->n >= PG_MAX_PARAMS) {
        /* A programming error: more parameters than any statement here has. */
        evb_log_error("store", "pg_params: more than %d parameters", PG_MAX_PARAMS);
        abort();
    }
    return p->n++;
}

void pg_p_text(pg_params *p, const char *v)
{
    int i = slot(p);
    p->v[i] = v;
    p->len[i] = 0;
    p->fmt[i] = 0;
}

void pg_p_i64(pg_params *p, int64_t v)
{
    int i = slot(p);
    snprintf(p->num[i], sizeof p->num[i], "%" PRId64, v);
    p->v[i] = p->num[i];
    p->len[i] = 0;
    p->fmt[i] = 0;
}

void pg_p_bytes(pg_params *p, const void *v, size_t len)
{
    int i = slot(p);
    p->v[i] = v;
    p->len[i] = (int)len;
    p->fmt[i] = 1;
}

/* ---- statements ---- */

static evb_err map_sqlstate(const char *st)
{
    if (st == NULL)
        return EVB_ERR_UNAVAILABLE; /* no server answer: the connection is gone */
    if (strcmp(st, "23505") == 0)
        return EVB_ERR_EXISTS;
    if (strcmp(st, "40001") == 0 || strcmp(st, "40P01") == 0)
        return EVB_ERR_CONFLICT;
    if (strncmp(st, "23", 2) == 0 || strncmp(st, "22", 2) == 0)
        return EVB_ERR_INVALID; /* integrity violation, data exception */
    if (strcmp(st, "53200") == 0)
        return EVB_ERR_NOMEM;
    /* 08 connection, 53 resources (disk full, too many connections), 57 operator
     * intervention (shutdown, statement/lock timeout 57014/55P03 below), 58 system error,
     * 25006 read-only transaction (a standby), 55P03 lock not available. */
    if (strncmp(st, "08", 2) == 0 || strncmp(st, "53", 2) == 0 || strncmp(st, "57", 2) == 0 ||
        strncmp(st, "58", 2) == 0 || strcmp(st, "25006") == 0 || strcmp(st, "55P03") == 0)
        return EVB_ERR_UNAVAILABLE;
    return EVB_ERR_INTERNAL;
}

evb_err pg_exec(PGconn *c, const char *sql, const pg_params *p, PGresult **res)
{
    if (res != NULL)
        *res = NULL;
    /* Without parameters, PQexec (which also takes several statements: migrations). */
    char name[24];
    PGresult *r = p == NULL || p->n == 0 ? PQexec(c, sql)
                  : prepared_name(c, sql, p, name)
                      ? PQexecPrepared(c, name, p->n, p->v, p->len, p->fmt, 0)
                      : PQexecParams(c, sql, p->n, NULL, p->v, p->len, p->fmt, 0);
    ExecStatusType st = PQresultStatus(r);
    if (r != NULL && (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)) {
        if (res != NULL)
            *res = r;
        else
            PQclear(r);
        return EVB_OK;
    }
    if (r == NULL) {
        return PQstatus(c) == CONNECTION_OK ? EVB_ERR_NOMEM : EVB_ERR_UNAVAILABLE;
    }
    const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    evb_err e = PQstatus(c) != CONNECTION_OK ? EVB_ERR_UNAVAILABLE : map_sqlstate(state);
    if (e == EVB_ERR_INTERNAL || e == EVB_ERR_UNAVAILABLE) {
        const char *m = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
        evb_log_warn("store", "PostgreSQL: %s (SQLSTATE %s)", m != NULL ? m : "no message",
                     state != NULL ? state : "none");
    }
    PQclear(r);
    return e;
}

evb_err pg_cmd(PGconn *c, const char *sql, const pg_params *p, int64_t *changes)
{
    PGresult *r = NULL;
    evb_err e = pg_exec(c, sql, p, &r);
    if (changes != NULL)
        *changes = e == EVB_OK ? strtoll(PQcmdTuples(r), NULL, 10) : 0;
    PQclear(r);
    return e;
}

evb_err pg_query(pg_store *ps, const char *sql, const pg_params *p, PGresult **res)
{
    PGconn *c = NULL;
    evb_err e = pg_conn_get(ps, &c);
    if (e != EVB_OK)
        return e;
    e = pg_exec(c, sql, p, res);
    pg_conn_put(ps, c);
    return e == EVB_ERR_CONFLICT ? EVB_ERR_UNAVAILABLE : e;
}

/* ---- results ---- */

int pg_isnull(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col);
}

char *pg_text(const PGresult *r, int row, int col, int *ok)
{
    if (PQgetisnull(r, row, col))
        return NULL;
    const char *v = PQgetvalue(r, row, col);
    size_t n = (size_t)PQgetlength(r, row, col);
    char *d = malloc(n + 1);
    if (d == NULL) {
        *ok = 0;
        return NULL;
    }
    memcpy(d, v, n);
    d[n] = '\0';
    return d;
}

int64_t pg_i64(const PGresult *r, int row, int col)
{
    if (PQgetisnull(r, row, col))
        return 0;
    return strtoll(PQgetvalue(r, row, col), NULL, 10);
}

void *pg_bytes(const PGresult *r, int row, int col, size_t *len, int *ok)
{
    *len = 0;
    if (PQgetisnull(r, row, col))
        return NULL;
    size_t n = 0;
    unsigned char *u = PQunescapeBytea((const unsigned char *)PQgetvalue(r, row, col), &n);
    if (u == NULL) {
        *ok = 0;
        return NULL;
    }
    /* PQfreemem memory is not ours to free(): copy (one extra byte keeps a 0-length
     * value non-NULL). */
    unsigned char *d = malloc(n + 1);
    if (d == NULL) {
        *ok = 0;
    } else {
        memcpy(d, u, n);
        d[n] = 0;
        *len = n;
    }
    PQfreemem(u);
    return d;
}

/* ---- transactions ---- */

static void backoff(int attempt)
{
    struct timespec ts = {0, (long)(attempt + 1) * 2000000L}; /* 2, 4, 6 ... ms */
    nanosleep(&ts, NULL);
}

evb_err pg_tx(pg_store *ps, pg_tx_fn fn, void *arg)
{
    if (pg_on_writer_thread())
        return EVB_ERR_INTERNAL; /* a synchronous write from a completion (store.h) */
    evb_err e = EVB_ERR_UNAVAILABLE;
    for (int attempt = 0; attempt < TX_ATTEMPTS; attempt++) {
        PGconn *c = NULL;
        e = pg_conn_get(ps, &c);
        if (e != EVB_OK)
            return e;
        e = pg_cmd(c, "BEGIN", NULL, NULL);
        if (e == EVB_OK)
            e = fn(ps, c, arg);
        if (e == EVB_OK)
            e = pg_cmd(c, "COMMIT", NULL, NULL);
        if (e != EVB_OK && PQstatus(c) == CONNECTION_OK && PQtransactionStatus(c) != PQTRANS_IDLE)
            pg_cmd(c, "ROLLBACK", NULL, NULL);
        pg_conn_put(ps, c);
        if (e != EVB_ERR_CONFLICT)
            break;
        backoff(attempt);
        e = EVB_ERR_UNAVAILABLE;
    }
    return e;
}

static evb_err notify(pg_store *ps, PGconn *c, const char *channel)
{
    pg_params p;
    pg_params_init(&p);
    pg_p_text(&p, channel);
    pg_p_text(&p, ps->node_id);
    return pg_cmd(c, "SELECT pg_notify($1, $2)", &p, NULL);
}

evb_err pg_notify_config(pg_store *ps, PGconn *c, int routing)
{
    return notify(ps, c, ps->chan[routing ? PG_CHAN_ROUTING : PG_CHAN_CONFIG]);
}

evb_err pg_notify_deliveries(pg_store *ps, PGconn *c)
{
    return notify(ps, c, ps->chan[PG_CHAN_DELIVERIES]);
}

typedef struct config_tx {
    int routing;
    pg_tx_fn fn;
    void *arg;
} config_tx;

static evb_err config_run(pg_store *ps, PGconn *c, void *arg)
{
    config_tx *x = arg;
    evb_err e = x->fn(ps, c, x->arg);
    if (e == EVB_OK)
        e = pg_notify_config(ps, c, x->routing);
    return e;
}

evb_err pg_config_tx(pg_store *ps, int routing, pg_tx_fn fn, void *arg)
{
    config_tx x = {routing, fn, arg};
    evb_err e = pg_tx(ps, config_run, &x);
    if (e == EVB_OK) {
        atomic_fetch_add(&ps->config_gen, 1);
        if (routing)
            atomic_fetch_add(&ps->routing_gen, 1);
    }
    return e;
}
