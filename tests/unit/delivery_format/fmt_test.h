/* evbridge tests — shared declarations of the delivery format tests: one case table per
 * file, each a NULL-terminated list of {name, fn}. */
#ifndef EVB_TESTS_DELIVERY_FORMAT_H
#define EVB_TESTS_DELIVERY_FORMAT_H

#include <stddef.h>

#include "server/cloudevents/event.h"
#include "server/delivery/request.h"

typedef struct fmt_case {
    const char *name;
    void (*fn)(void);
} fmt_case;

extern const fmt_case SIGNING_CASES[];
extern const fmt_case REQUEST_CASES[];
extern const fmt_case ROBOT_CASES[];

/* A test event (malloc'd; evb_event_free): id e1, source /connectors/crm, type
 * customer.changed, orgid o1, connector crm, time 2024-01-02T03:04:05Z; datacontenttype,
 * subject and data as given (NULL = absent). */
evb_event *ev_make(const char *dct, const char *subject, const char *data, size_t data_len);
/* Adds an extension (keeps the list sorted by name). */
void ev_ext(evb_event *ev, const char *name, const char *value);

/* The number of headers named name (case-insensitive) in r. */
size_t hdr_count(const evb_http_request *r, const char *name);

#endif
