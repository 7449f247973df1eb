/* evbridge — one PutEventsRequest from bytes to committed events and a packed response.
 *
 * Shared by the unary PutEvents and the PublishStream handlers: check the request as a
 * whole, build a CloudEvent per entry (ingest rules), queue the accepted ones for the next
 * group commit and, once committed, pack the PutEventsResponse. The completion runs once,
 * on the calling thread (early answers) or on the store's writer thread (after commit).
 */
#ifndef EVB_SERVER_RPC_PUT_JOB_H
#define EVB_SERVER_RPC_PUT_JOB_H

#include <stddef.h>
#include <stdint.h>

#include "server/rpc/svc.h"

/* status EVB_RPC_OK: resp/len is the packed PutEventsResponse (valid during the call).
 * Otherwise the whole call failed with status and message. */
typedef void (*evb_put_done_fn)(void *arg, evb_rpc_status status, const char *message,
                                const uint8_t *resp, size_t len);

/* Starts processing the request bytes for principal p. When `reject_all` is set (streams),
 * whole-request failures after decoding (unknown connector, denied, limits, storage
 * unavailable) come back as a response whose entries are all REJECTED with the status name
 * as error_code, so the stream goes on; only undecodable bytes fail the call.
 * traceparent/tracestate: the call's W3C trace context metadata (may be NULL); a valid
 * traceparent is stored on every entry that carries no `traceparent` extension of its own
 * (with the tracestate, when valid and the entry has none); an invalid one is ignored. */
void evb_put_start(evb_services *svc, const evb_principal *p, const uint8_t *req, size_t len,
                   int reject_all, const char *traceparent, const char *tracestate,
                   evb_put_done_fn done, void *arg);

#endif
