/* evbridge — private header of the PostgreSQL backend: reading metadata records (the
 * decoders of store_common_meta.h) from query results. Used by pg_meta.c, pg_routing.c and
 * pg_schemas.c; never included outside server/store/.
 */
#ifndef EVB_SERVER_STORE_PG_COMMON_META_H
#define EVB_SERVER_STORE_PG_COMMON_META_H

#include "server/store/pg_int.h"
#include "server/store/store_common_meta.h"

/* Decodes every row of res with fn into a malloc'd array of elem_size-byte elements:
 * *arr (NULL when there is no row) and *n get the array and its decoded elements, also on
 * error (the caller frees them). */
evb_err pg_rec_collect(PGresult *res, size_t elem_size, store_rec_fn fn, void **arr, size_t *n);
/* Runs sql on c (inside the caller's transaction; p may be NULL) and decodes its first row
 * with fn into slot: EVB_ERR_NOT_FOUND when there is none, else pg_exec's error. */
evb_err pg_rec_one(PGconn *c, const char *sql, const pg_params *p, store_rec_fn fn, void *slot);
/* pg_rec_one as a read on a pooled connection (no transaction). */
evb_err pg_rec_get(pg_store *ps, const char *sql, const pg_params *p, store_rec_fn fn, void *slot);
/* A read on a pooled connection whose rows pg_rec_collect decodes (same outputs). */
evb_err pg_rec_list(pg_store *ps, const char *sql, const pg_params *p, size_t elem_size,
                    store_rec_fn fn, void **arr, size_t *n);

#endif
