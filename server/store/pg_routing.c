/* evbridge — PostgreSQL backend: NOT YET IMPLEMENTED placeholders (issue 9 in progress).
 * Every entry here answers EVB_ERR_UNIMPLEMENTED until its real implementation lands. */
#include "server/store/pg_int.h"

evb_err pg_action_create(evb_store *s, const evb_action_rec *a)
{
    (void)s;
    (void)a;
    return EVB_ERR_UNIMPLEMENTED;
}

evb_err pg_action_update(evb_store *s, const evb_action_rec *a)
{
    (void)s;
    (void)a;
    return EVB_ERR_UNIMPLEMENTED;
}

evb_err pg_action_set_disabled(evb_store *s, const char *name, int disabled, const char *reason)
{
    (void)s;
    (void)name;
    (void)disabled;
    (void)reason;
    return EVB_ERR_UNIMPLEMENTED;
}

evb_err pg_action_delete(evb_store *s, const char *name)
{
    (void)s;
    (void)name;
    return EVB_ERR_UNIMPLEMENTED;
}

evb_err pg_action_get(evb_store *s, const char *name, evb_action_rec **out)
{
    (void)s;
    (void)name;
    (void)out;
    return EVB_ERR_UNIMPLEMENTED;
}

evb_err pg_action_list(evb_store *s, const char *isv, const char *org, evb_action_rec ***out,
                       size_t *n_out)
{
    (void)s;
    (void)isv;
    (void)org;
    (void)out;
    (void)n_out;
    return EVB_ERR_UNIMPLEMENTED;
}

evb_err pg_connection_create(evb_store *s, const evb_connection_rec *c)
{
    (void)s;
    (void)c;
    return EVB_ERR_UNIMPLEMENTED;
}

evb_err pg_connection_update(evb_store *s, const evb_connection_rec *c)
{
    (void)s;
    (void)c;
    return EVB_ERR_UNIMPLEMENTED;
}

evb_err pg_connection_set_state(evb_store *s, const char *id, int state, const char *reason)
{
    (void)s;
    (void)id;
    (void)state;
    (void)reason;
    return EVB_ERR_UNIMPLEMENTED;
}

evb_err pg_connection_delete(evb_store *s, const char *id)
{
    (void)s;
    (void)id;
    return EVB_ERR_UNIMPLEMENTED;
}

evb_err pg_connection_get(evb_store *s, const char *id, evb_connection_rec **out)
{
    (void)s;
    (void)id;
    (void)out;
    return EVB_ERR_UNIMPLEMENTED;
}

evb_err pg_connection_list(evb_store *s, const char *org, const char *connector,
                           evb_connection_rec ***out, size_t *n_out)
{
    (void)s;
    (void)org;
    (void)connector;
    (void)out;
    (void)n_out;
    return EVB_ERR_UNIMPLEMENTED;
}

evb_err pg_connection_all(evb_store *s, evb_connection_rec ***out, size_t *n_out)
{
    (void)s;
    (void)out;
    (void)n_out;
    return EVB_ERR_UNIMPLEMENTED;
}
