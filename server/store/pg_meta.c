/* evbridge — PostgreSQL backend: NOT YET IMPLEMENTED placeholders (issue 9 in progress).
 * Every entry here answers EVB_ERR_UNIMPLEMENTED until its real implementation lands. */
#include "server/store/pg_int.h"

evb_err pg_connector_create(evb_store *s, const evb_connector *c)
{
    (void)s;
    (void)c;
    return EVB_ERR_UNIMPLEMENTED;
}

evb_err pg_connector_update(evb_store *s, const evb_connector *c)
{
    (void)s;
    (void)c;
    return EVB_ERR_UNIMPLEMENTED;
}

evb_err pg_connector_delete(evb_store *s, const char *name)
{
    (void)s;
    (void)name;
    return EVB_ERR_UNIMPLEMENTED;
}

evb_err pg_connector_get(evb_store *s, const char *name, evb_connector **out)
{
    (void)s;
    (void)name;
    (void)out;
    return EVB_ERR_UNIMPLEMENTED;
}

evb_err pg_connector_list(evb_store *s, const char *isv, evb_connector ***out, size_t *n_out)
{
    (void)s;
    (void)isv;
    (void)out;
    (void)n_out;
    return EVB_ERR_UNIMPLEMENTED;
}

evb_err pg_key_create(evb_store *s, const evb_api_key *k)
{
    (void)s;
    (void)k;
    return EVB_ERR_UNIMPLEMENTED;
}

evb_err pg_key_revoke(evb_store *s, const char *key_id, int64_t revoke_ms)
{
    (void)s;
    (void)key_id;
    (void)revoke_ms;
    return EVB_ERR_UNIMPLEMENTED;
}

evb_err pg_key_get(evb_store *s, const char *key_id, evb_api_key **out)
{
    (void)s;
    (void)key_id;
    (void)out;
    return EVB_ERR_UNIMPLEMENTED;
}

evb_err pg_key_list(evb_store *s, int include_revoked, evb_api_key ***out, size_t *n_out)
{
    (void)s;
    (void)include_revoked;
    (void)out;
    (void)n_out;
    return EVB_ERR_UNIMPLEMENTED;
}

evb_err pg_key_count_admin(evb_store *s, int64_t *out)
{
    (void)s;
    (void)out;
    return EVB_ERR_UNIMPLEMENTED;
}
