/* evbridge — freeing the metadata records of records.h (connectors, API keys).
 *
 * Every string member is malloc'd and owned by its record; NULL members and NULL records
 * are fine, so a half-built record (an allocation failed midway) frees cleanly.
 */
#include "server/store/records.h"

#include <stdlib.h>

void evb_connector_free(evb_connector *c)
{
    if (c == NULL)
        return;
    free(c->name);
    free(c->display_name);
    free(c->isv);
    free(c->source);
    for (size_t i = 0; i < c->n_types; i++) {
        free(c->types[i].type);
        free(c->types[i].subject);
        free(c->types[i].description);
    }
    free(c->types);
    free(c);
}

void evb_connector_array_free(evb_connector **cs, size_t n)
{
    if (cs == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        evb_connector_free(cs[i]);
    free(cs);
}

void evb_api_key_free(evb_api_key *k)
{
    if (k == NULL)
        return;
    free(k->key_id);
    free(k->hash);
    free(k->role);
    free(k->scope);
    free(k->description);
    free(k);
}

void evb_api_key_array_free(evb_api_key **ks, size_t n)
{
    if (ks == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        evb_api_key_free(ks[i]);
    free(ks);
}
