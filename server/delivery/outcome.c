/* evbridge — classification of delivery attempt answers (outcome.h).
 *
 * Two small tables in code form: HTTP status classes, then DingTalk robot error codes on
 * top of a 2xx. Kept apart from the dispatcher so every status has a unit-test row.
 */
#include "server/delivery/outcome.h"

evb_outcome evb_http_outcome(int http_status)
{
    if (http_status >= 200 && http_status <= 299)
        return EVB_OUTCOME_DELIVERED;
    if (http_status == 410)
        return EVB_OUTCOME_GONE;
    if (http_status == 408 || http_status == 425 || http_status == 429)
        return EVB_OUTCOME_RETRY;
    if (http_status >= 300 && http_status <= 499)
        return EVB_OUTCOME_DEAD;
    /* 0 (no answer), 5xx, and anything that is not a valid final status */
    return EVB_OUTCOME_RETRY;
}

evb_outcome evb_robot_outcome(int http_status, long long errcode, int have_errcode)
{
    evb_outcome o = evb_http_outcome(http_status);
    if (o != EVB_OUTCOME_DELIVERED || !have_errcode || errcode == 0)
        return o;
    if (errcode == EVB_ROBOT_ERR_TOO_FAST || errcode == EVB_ROBOT_ERR_BUSY)
        return EVB_OUTCOME_RETRY;
    return EVB_OUTCOME_DISABLE_ACTION;
}

const char *evb_outcome_name(evb_outcome o)
{
    switch (o) {
    case EVB_OUTCOME_DELIVERED:
        return "delivered";
    case EVB_OUTCOME_RETRY:
        return "retry";
    case EVB_OUTCOME_DEAD:
        return "dead";
    case EVB_OUTCOME_GONE:
        return "gone";
    case EVB_OUTCOME_DISABLE_ACTION:
        return "disable_action";
    }
    return "unknown";
}
