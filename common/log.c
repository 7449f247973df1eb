/* evbridge — structured logging to stderr (log.h).
 *
 * Each record is built in a private, capped buffer and handed to the kernel with a single
 * write(2) (retried only for EINTR or a short write), so records from concurrent threads
 * never interleave within a line. JSON lines are escaped per RFC 8259 (invalid UTF-8 becomes
 * U+FFFD); text lines escape control characters so one record is always one line. The
 * configuration is held in atomics: set it once before threads start.
 * Spec: https://jsonlines.org, https://www.rfc-editor.org/rfc/rfc8259
 */
#include "common/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/text.h"
#include "common/timeutil.h"

#define LOG_MAX_RECORD 65536 /* context fields past this are dropped (and it says so) */
#define LOG_MAX_MSG 8192     /* longer messages are truncated; escaped, they still fit */

static atomic_int log_level = EVB_LOG_INFO;
static atomic_int log_format = EVB_LOG_JSON;
static atomic_int log_fd = STDERR_FILENO;

static const char *const level_names[] = {"debug", "info", "warn", "error", "off"};

/* Per-component overrides: written before threads start, read-only afterwards. */
#define LOG_MAX_COMPONENTS 16
typedef struct comp_level {
    char name[32];
    int level;
} comp_level;
static comp_level comp_levels[LOG_MAX_COMPONENTS];
static atomic_int n_comp_levels = 0;
static atomic_int min_comp_level = EVB_LOG_OFF;

int evb_log_configure_components(const char *spec)
{
    comp_level parsed[LOG_MAX_COMPONENTS];
    int n = 0, min = EVB_LOG_OFF;
    for (const char *p = spec; p != NULL && *p != '\0';) {
        size_t len = strcspn(p, ",");
        const char *eq = memchr(p, '=', len);
        if (eq == NULL || eq == p || (size_t)(eq - p) >= sizeof parsed[0].name ||
            n == LOG_MAX_COMPONENTS)
            return 0;
        char lv[8];
        size_t lvn = len - (size_t)(eq - p) - 1;
        if (lvn >= sizeof lv)
            return 0;
        memcpy(lv, eq + 1, lvn);
        lv[lvn] = '\0';
        int level = evb_log_level_parse(lv);
        if (level < 0)
            return 0;
        memcpy(parsed[n].name, p, (size_t)(eq - p));
        parsed[n].name[eq - p] = '\0';
        parsed[n].level = level;
        if (level < min)
            min = level;
        n++;
        p += len;
        if (*p == ',')
            p++;
    }
    memcpy(comp_levels, parsed, (size_t)n * sizeof parsed[0]);
    atomic_store(&min_comp_level, min);
    atomic_store(&n_comp_levels, n);
    return 1;
}

static int level_of(const char *component)
{
    int n = atomic_load(&n_comp_levels);
    for (int i = 0; component != NULL && i < n; i++)
        if (strcmp(comp_levels[i].name, component) == 0)
            return comp_levels[i].level;
    return atomic_load(&log_level);
}

void evb_log_configure(evb_log_level level, evb_log_format format)
{
    if ((int)level < EVB_LOG_DEBUG || level > EVB_LOG_OFF)
        level = EVB_LOG_INFO;
    atomic_store(&log_level, (int)level);
    atomic_store(&log_format, format == EVB_LOG_TEXT ? EVB_LOG_TEXT : EVB_LOG_JSON);
}

void evb_log_set_fd(int fd)
{
    atomic_store(&log_fd, fd < 0 ? STDERR_FILENO : fd);
}

int evb_log_level_parse(const char *s)
{
    if (s == NULL)
        return -1;
    for (int i = 0; i <= EVB_LOG_OFF; i++)
        if (strcmp(s, level_names[i]) == 0)
            return i;
    return -1;
}

int evb_log_enabled(evb_log_level level)
{
    int cur = atomic_load(&log_level);
    int comp = atomic_load(&min_comp_level);
    if (comp < cur)
        cur = comp;
    return (int)level >= cur && level < EVB_LOG_OFF && cur < EVB_LOG_OFF;
}

int evb_log_component_enabled(evb_log_level level, const char *component)
{
    int cur = level_of(component);
    return (int)level >= cur && level < EVB_LOG_OFF && cur < EVB_LOG_OFF;
}

/* Length of the well-formed UTF-8 sequence at NUL-terminated p (p[0] >= 0x80), else 0. */
static size_t utf8_len_at(const unsigned char *p)
{
    size_t want = p[0] >= 0xF0 ? 4 : p[0] >= 0xE0 ? 3 : 2;
    size_t have = strnlen((const char *)p, want);
    return have == want && evb_utf8_valid((const char *)p, want) ? want : 0;
}

/* Text mode: copies s, escaping controls and backslash; quotes when `quote` is set. */
static evb_err text_escaped(evb_buf *b, const char *s, int quote)
{
    static const char hex[] = "0123456789abcdef";
    evb_err rc = EVB_OK;
    size_t n;
    if (quote)
        rc = evb_buf_append(b, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p && rc == EVB_OK; p++) {
        unsigned char c = *p;
        if (c == '\n') {
            rc = evb_buf_append(b, "\\n", 2);
        } else if (c == '\r') {
            rc = evb_buf_append(b, "\\r", 2);
        } else if (c == '\t') {
            rc = evb_buf_append(b, "\\t", 2);
        } else if (c == '\\' || (quote && c == '"')) {
            char e[2] = {'\\', (char)c};
            rc = evb_buf_append(b, e, 2);
        } else if (c >= 0x80 && (n = utf8_len_at(p)) > 0) {
            rc = evb_buf_append(b, p, n);
            p += n - 1;
        } else if (c < 0x20 || c >= 0x7F) { /* controls, DEL, bytes of invalid UTF-8 */
            char e[4] = {'\\', 'x', hex[c >> 4], hex[c & 0xF]};
            rc = evb_buf_append(b, e, 4);
        } else {
            rc = evb_buf_append(b, p, 1);
        }
    }
    if (quote && rc == EVB_OK)
        rc = evb_buf_append(b, "\"", 1);
    return rc;
}

static int needs_quotes(const char *s)
{
    if (*s == '\0')
        return 1;
    for (; *s; s++)
        if (*s == ' ' || *s == '"' || *s == '=')
            return 1;
    return 0;
}

static evb_err json_str(evb_buf *b, const char *s)
{
    evb_err rc = evb_buf_append(b, "\"", 1);
    if (rc == EVB_OK)
        rc = evb_buf_append_json_escaped(b, s, strlen(s));
    if (rc == EVB_OK)
        rc = evb_buf_append(b, "\"", 1);
    return rc;
}

/* Undoes a partial append back to len `mark`. */
static void rollback(evb_buf *b, size_t mark)
{
    b->len = mark;
    if (b->data != NULL)
        b->data[mark] = '\0';
}

static void write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return; /* nowhere left to report it */
        }
        p += w;
        n -= (size_t)w;
    }
}

void evb_log(evb_log_level level, const char *component, const char *const *ctx, const char *fmt,
             ...)
{
    if (!evb_log_component_enabled(level, component))
        return;
    int saved_errno = errno;
    char msg[LOG_MAX_MSG];
    va_list ap;
    va_start(ap, fmt);
    int mn = vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (mn < 0)
        snprintf(msg, sizeof msg, "(unformattable message)");
    int truncated = mn >= (int)sizeof msg;

    char ts[32];
    evb_time_format_rfc3339(evb_now_ms(), ts, sizeof ts);
    const char *lvl = level_names[level];
    if (component == NULL)
        component = "";

    /* The cap leaves room for the record's tail, appended after lifting it. A context
     * field that does not fit is dropped whole, so the record stays well-formed. */
    evb_buf b;
    evb_buf_init(&b, LOG_MAX_RECORD - 32);
    int text = atomic_load(&log_format) == EVB_LOG_TEXT;
    evb_err rc;
    if (text) {
        rc = evb_buf_printf(&b, "%s %-5s %s: ", ts, lvl, component);
        if (rc == EVB_OK)
            rc = text_escaped(&b, msg, 0);
    } else {
        rc = evb_buf_printf(&b, "{\"time\":\"%s\",\"level\":\"%s\",\"component\":", ts, lvl);
        if (rc == EVB_OK)
            rc = json_str(&b, component);
        if (rc == EVB_OK)
            rc = evb_buf_append_str(&b, ",\"msg\":");
        if (rc == EVB_OK)
            rc = json_str(&b, msg);
    }
    for (size_t i = 0; rc == EVB_OK && ctx != NULL && ctx[i] != NULL; i += 2) {
        if (ctx[i + 1] == NULL)
            continue;
        size_t mark = b.len;
        evb_err frc;
        if (text) {
            frc = evb_buf_append(&b, " ", 1);
            if (frc == EVB_OK)
                frc = text_escaped(&b, ctx[i], 0);
            if (frc == EVB_OK)
                frc = evb_buf_append(&b, "=", 1);
            if (frc == EVB_OK)
                frc = text_escaped(&b, ctx[i + 1], needs_quotes(ctx[i + 1]));
        } else {
            frc = evb_buf_append(&b, ",", 1);
            if (frc == EVB_OK)
                frc = json_str(&b, ctx[i]);
            if (frc == EVB_OK)
                frc = evb_buf_append(&b, ":", 1);
            if (frc == EVB_OK)
                frc = json_str(&b, ctx[i + 1]);
        }
        if (frc != EVB_OK) {
            rollback(&b, mark);
            truncated = 1;
            if (frc == EVB_ERR_NOMEM)
                rc = frc;
            break;
        }
    }
    if (rc == EVB_OK) {
        b.cap = 0;
        if (text)
            rc = evb_buf_append_str(&b, truncated ? " truncated=true\n" : "\n");
        else
            rc = evb_buf_append_str(&b, truncated ? ",\"truncated\":true}\n" : "}\n");
    }
    if (rc == EVB_OK)
        write_all(atomic_load(&log_fd), b.data, b.len);
    evb_buf_fini(&b);
    errno = saved_errno;
}
