/* evbridge — private to server/router/: the event as routing's patterns see it.
 *
 * Patterns match the CloudEvent as a JSON object (server/routing/pattern.h). Routing does not
 * build that object: it describes it as an evb_pattern_view whose members are the event's
 * attributes (borrowed strings) and its payload as an evb_json value - the document the
 * PutEvents path parsed for validation when there is one, else parsed here with our strict
 * parser. The members are those evb_router_event_json() puts in its object, in the same
 * order, so a pattern answers the same on both.
 */
#ifndef EVB_SERVER_ROUTER_INT_H
#define EVB_SERVER_ROUTER_INT_H

#include "common/err.h"
#include "registry/json_value.h"
#include "server/cloudevents/event.h"
#include "server/routing/pattern.h"

#define EVB_ROUTER_VIEW_STACK 24

typedef struct evb_router_view {
    evb_pattern_view view;
    evb_pattern_member stack[EVB_ROUTER_VIEW_STACK];
    evb_pattern_member *members; /* stack or malloc'd */
    evb_json_doc *doc;           /* the payload parsed here, or NULL */
} evb_router_view;

/* Describes ev in v (caller-owned storage; v borrows ev, and data, which must outlive it).
 * With with_data and a payload: JSON (per datacontenttype) is the member "data" as the
 * evb_json value `data` when not NULL (the parsed payload, borrowed), else parsed here
 * (evb_json_parse; a payload that does not parse is left out); other payloads are the string
 * "data" when they are UTF-8 without NUL bytes, else left out. EVB_ERR_NOMEM; v must be
 * finished with evb_router_view_fini either way. Thread-safe. */
evb_err evb_router_view_init(evb_router_view *v, const evb_event *ev, int with_data,
                             const evb_json *data);
void evb_router_view_fini(evb_router_view *v);

#endif
