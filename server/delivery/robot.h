/* evbridge — DingTalk custom robot messages, built without any I/O.
 *
 * An action of kind DINGTALK_ROBOT stores {"robot":{webhook_url, secret, message_type,
 * title, template, vars, at_mobiles, at_user_ids, is_at_all, single_title, single_url}}
 * (server/rpc/action_codec.c). It is parsed once into an evb_robot_target (JSONPaths of the
 * vars compiled); each attempt renders the message and builds a POST of a JSON body:
 *   text        {"msgtype":"text","text":{"content":T}}
 *   markdown    {"msgtype":"markdown","markdown":{"title":H,"text":T}}
 *   actionCard  {"msgtype":"actionCard","actionCard":{"title":H,"text":T,"singleTitle":..,
 *               "singleURL":..}}
 * plus "at":{"atMobiles":[..],"atUserIds":[..],"isAtAll":b} when any of them is set.
 *
 * Rendering (template T and title H): ${name} is replaced by the value that vars[name] (a
 * JSONPath, server/routing/jsonpath.h) selects in the event's JSON view (routing view:
 * attributes and extensions at the top, JSON data under "data"). Values are inserted as
 * message text, not JSON: a string as its characters, a number/boolean/object/array as its
 * compact JSON text; a missing value or null gives nothing (empty text), as the transforms'
 * text templates do. "$${" is a literal "${". A ${name} that vars does not bind stays in
 * the text as written, so a configuration mistake is visible in the chat rather than
 * silently dropped. singleTitle and singleURL are sent as configured (no placeholders).
 * Limit: each rendered text is cut to EVB_ROBOT_MAX_TEXT bytes (DingTalk's message limit)
 * at a UTF-8 character boundary; a cut text ends with "…" (U+2026), counted in the limit.
 *
 * Signing: with a secret, "&timestamp=<ms>&sign=<evb_robot_sign>" is appended to the URL
 * ("?" when the URL has no query). The robot answers HTTP 200 even on errors: success is
 * errcode 0 in the body (evb_robot_parse_response).
 */
#ifndef EVB_SERVER_DELIVERY_ROBOT_H
#define EVB_SERVER_DELIVERY_ROBOT_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "server/cloudevents/event.h"
#include "server/delivery/request.h"
#include "server/delivery/signing.h"

#define EVB_ROBOT_MAX_TEXT 20000

typedef enum evb_robot_msg_type {
    EVB_ROBOT_TEXT = 1,
    EVB_ROBOT_MARKDOWN = 2,
    EVB_ROBOT_ACTION_CARD = 3
} evb_robot_msg_type;

/* What an errcode means for retries is outcome.h's job (evb_robot_outcome). */

/* A parsed robot action; immutable after parsing, shareable across threads. Opaque. */
typedef struct evb_robot_target evb_robot_target;

/* Parses the stored config of a robot action into *out (free with evb_robot_target_free).
 * Rechecks: webhook_url an http(s) URL without blanks or control characters; message_type
 * 1..3 (absent = 1); a non-empty UTF-8 template; a title for markdown and actionCard;
 * single_title and single_url for actionCard; each var a name [A-Za-z0-9_]{1,64} bound to
 * a JSONPath that compiles; the secret without control characters; at lists of strings.
 * EVB_ERR_INVALID with err->pointer naming the member ("robot.vars.<name>", ...),
 * EVB_ERR_PARSE for text that is not JSON, EVB_ERR_NOMEM. Thread-safe. */
evb_err evb_robot_target_parse(const char *action_config_json, evb_robot_target **out,
                               evb_error *err);

/* Frees t (the secret is wiped first). NULL is a no-op. */
void evb_robot_target_free(evb_robot_target *t);

/* Renders the message for ev and builds the request into *out: method POST, the (signed,
 * when there is a secret, with timestamp now_ms) URL, "Content-Type: application/json;
 * charset=utf-8", the JSON body, timeout EVB_HTTP_TIMEOUT_DEFAULT_MS. EVB_ERR_NOMEM (the only
 * failure of a parsed target; err may be NULL). On error *out is zeroed. Thread-safe. */
evb_err evb_robot_request_build(const evb_robot_target *t, const evb_event *ev, int64_t now_ms,
                                evb_http_request *out, evb_error *err);

/* Renders the NUL-terminated template_text (NULL = "") against the JSON view `event` (a
 * jansson json_t *, passed as const void * to keep jansson out of this header) with t's
 * vars, as described above, cut to max_bytes (>= 3; EVB_ERR_INVALID otherwise). On EVB_OK
 * *out is malloc'd and NUL-terminated. Exposed for tests and previews. Thread-safe. */
evb_err evb_robot_render(const evb_robot_target *t, const char *template_text, const void *event,
                         size_t max_bytes, char **out);

/* Reads the robot's reply body[0..len): returns 1 when it is a JSON object with an integer
 * "errcode", storing it in *errcode and "errmsg" (a string, or "" when absent) in errmsg
 * (NUL-terminated, cut to errmsg_len, control characters and invalid UTF-8 replaced by '?';
 * errmsg may be NULL when errmsg_len is 0). Returns 0 for anything else (malformed or
 * empty body, no integer errcode), leaving *errcode untouched and errmsg "". Success is
 * return 1 with *errcode == 0. Thread-safe. */
int evb_robot_parse_response(const char *body, size_t len, long long *errcode, char *errmsg,
                             size_t errmsg_len);

#endif
