/* evbridge registry — ECMA-262 to PCRE2 translation, compile and bounded match.
 * See regex_int.h for the design; ECMA-262 pattern syntax:
 * https://tc39.es/ecma262/#sec-patterns
 */
#include "registry/regex_int.h"
#include "registry/util_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct evb_regex {
    pcre2_code *code;
    pcre2_match_context *mctx;
    regex_simple *simple; /* NULL: PCRE2 matches every subject */
};

/* ECMAScript WhiteSpace + LineTerminator, as the inside of a character class. */
static const char ECMA_SPACE[] =
    "\\t\\n\\x{0b}\\f\\r \\x{a0}\\x{1680}\\x{2000}-\\x{200a}\\x{2028}\\x{2029}\\x{202f}"
    "\\x{205f}\\x{3000}\\x{feff}";

static int hex4(const char *p, size_t left, unsigned *out)
{
    if (left < 4)
        return 0;
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        unsigned d;
        if (c >= '0' && c <= '9')
            d = (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            d = (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            d = (unsigned)(c - 'A' + 10);
        else
            return 0;
        v = v * 16 + d;
    }
    *out = v;
    return 1;
}

/* ECMAScript long General_Category names that PCRE2 10.42 only knows by their short form. */
static const char *const GC_NAMES[][2] = {
    {"Letter", "L"},
    {"Cased_Letter", "L&"},
    {"Uppercase_Letter", "Lu"},
    {"Lowercase_Letter", "Ll"},
    {"Titlecase_Letter", "Lt"},
    {"Modifier_Letter", "Lm"},
    {"Other_Letter", "Lo"},
    {"Mark", "M"},
    {"Nonspacing_Mark", "Mn"},
    {"Spacing_Mark", "Mc"},
    {"Enclosing_Mark", "Me"},
    {"Number", "N"},
    {"Decimal_Number", "Nd"},
    {"digit", "Nd"},
    {"Letter_Number", "Nl"},
    {"Other_Number", "No"},
    {"Punctuation", "P"},
    {"punct", "P"},
    {"Connector_Punctuation", "Pc"},
    {"Dash_Punctuation", "Pd"},
    {"Open_Punctuation", "Ps"},
    {"Close_Punctuation", "Pe"},
    {"Initial_Punctuation", "Pi"},
    {"Final_Punctuation", "Pf"},
    {"Other_Punctuation", "Po"},
    {"Symbol", "S"},
    {"Math_Symbol", "Sm"},
    {"Currency_Symbol", "Sc"},
    {"Modifier_Symbol", "Sk"},
    {"Other_Symbol", "So"},
    {"Separator", "Z"},
    {"Space_Separator", "Zs"},
    {"Line_Separator", "Zl"},
    {"Paragraph_Separator", "Zp"},
    {"Other", "C"},
    {"Control", "Cc"},
    {"cntrl", "Cc"},
    {"Format", "Cf"},
    {"Surrogate", "Cs"},
    {"Private_Use", "Co"},
    {"Unassigned", "Cn"},
};

/* \p{Name} / \p{gc=Name} / \p{Script=Name}: rewrite to a name PCRE2 accepts. */
static size_t translate_property(sbuf *o, const char *p, size_t left)
{
    const char *close = memchr(p, '}', left);
    if (left < 4 || p[2] != '{' || close == NULL)
        return 0;
    const char *name = p + 3;
    size_t n = (size_t)(close - name);
    const char *eq = memchr(name, '=', n);
    if (eq != NULL) {
        n -= (size_t)(eq + 1 - name);
        name = eq + 1;
    }
    sbuf_putc(o, '\\');
    sbuf_putc(o, p[1]);
    sbuf_putc(o, '{');
    const char *mapped = NULL;
    for (size_t i = 0; i < sizeof GC_NAMES / sizeof GC_NAMES[0]; i++)
        if (strlen(GC_NAMES[i][0]) == n && memcmp(GC_NAMES[i][0], name, n) == 0)
            mapped = GC_NAMES[i][1];
    if (mapped != NULL)
        sbuf_puts(o, mapped);
    else
        sbuf_put(o, name, n);
    sbuf_putc(o, '}');
    return (size_t)(close - p) + 1;
}

/* Handles one escape at p[0] == '\\'; returns the number of pattern bytes consumed. */
static size_t translate_escape(sbuf *o, const char *p, size_t left, bool in_class)
{
    if (left < 2) {
        sbuf_putc(o, '\\');
        return 1;
    }
    char c = p[1];
    unsigned cp, lo;
    if (c == 'u' && hex4(p + 2, left - 2, &cp)) {
        size_t used = 6;
        if (cp >= 0xD800 && cp <= 0xDBFF && left >= 12 && p[6] == '\\' && p[7] == 'u' &&
            hex4(p + 8, left - 8, &lo) && lo >= 0xDC00 && lo <= 0xDFFF) {
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            used = 12;
        }
        sbuf_printf(o, "\\x{%x}", cp);
        return used;
    }
    if (c == 'u' && left > 2 && p[2] == '{') {
        size_t k = 3;
        while (k < left && p[k] != '}')
            k++;
        if (k < left) {
            sbuf_puts(o, "\\x{");
            sbuf_put(o, p + 3, k - 3);
            sbuf_putc(o, '}');
            return k + 1;
        }
    }
    if (c == 'p' || c == 'P') {
        size_t used = translate_property(o, p, left);
        if (used > 0)
            return used;
    }
    if (c == 's' || c == 'S') {
        if (in_class && c == 's')
            sbuf_puts(o, ECMA_SPACE);
        else if (in_class)
            sbuf_puts(o, "\\S");
        else
            sbuf_printf(o, "[%s%s]", c == 'S' ? "^" : "", ECMA_SPACE);
        return 2;
    }
    if (c == 'd' && !in_class) {
        sbuf_puts(o, "[0-9]");
        return 2;
    }
    if (c == 'D' && !in_class) {
        sbuf_puts(o, "[^0-9]");
        return 2;
    }
    sbuf_put(o, p, 2);
    return 2;
}

static char *translate(const char *pat, size_t len)
{
    sbuf o;
    sbuf_init(&o);
    bool in_class = false;
    for (size_t i = 0; i < len;) {
        char c = pat[i];
        if (c == '\\') {
            i += translate_escape(&o, pat + i, len - i, in_class);
        } else if (!in_class && c == '[') {
            if (len - i >= 3 && memcmp(pat + i, "[^]", 3) == 0) {
                sbuf_puts(&o, "[\\s\\S]");
                i += 3;
            } else if (len - i >= 2 && memcmp(pat + i, "[]", 2) == 0) {
                sbuf_puts(&o, "(?!)");
                i += 2;
            } else {
                in_class = true;
                sbuf_putc(&o, c);
                i++;
                if (i < len && pat[i] == '^') {
                    sbuf_putc(&o, '^');
                    i++;
                }
                if (i < len && pat[i] == ']') { /* ECMA: "[]...]" is not a literal ']' */
                    sbuf_puts(&o, "\\]");
                    i++;
                }
            }
        } else {
            if (in_class && c == ']')
                in_class = false;
            else if (in_class && c == '[')
                sbuf_putc(&o, '\\'); /* literal '[' in an ECMA class; PCRE may see [:x:] */
            sbuf_putc(&o, c);
            i++;
        }
    }
    if (o.failed || o.data == NULL) {
        bool empty = !o.failed;
        sbuf_fini(&o);
        return empty ? calloc(1, 1) : NULL;
    }
    return o.data;
}

evb_regex *regex_compile(const char *pat, size_t len, char *errbuf, size_t errlen)
{
    char *t = translate(pat, len);
    if (t == NULL) {
        snprintf(errbuf, errlen, "out of memory");
        return NULL;
    }
    evb_regex *re = calloc(1, sizeof *re);
    if (re == NULL) {
        free(t);
        snprintf(errbuf, errlen, "out of memory");
        return NULL;
    }
    int ec;
    PCRE2_SIZE off;
    re->code =
        pcre2_compile((PCRE2_SPTR)t, strlen(t), PCRE2_UTF | PCRE2_DOLLAR_ENDONLY, &ec, &off, NULL);
    free(t);
    if (re->code == NULL) {
        PCRE2_UCHAR msg[160];
        pcre2_get_error_message(ec, msg, sizeof msg);
        snprintf(errbuf, errlen, "%s", (const char *)msg);
        free(re);
        return NULL;
    }
    (void)pcre2_jit_compile(re->code, PCRE2_JIT_COMPLETE); /* falls back to the interpreter */
    re->mctx = pcre2_match_context_create(NULL);
    if (re->mctx == NULL) {
        regex_free(re);
        snprintf(errbuf, errlen, "out of memory");
        return NULL;
    }
    pcre2_set_match_limit(re->mctx, EVB_REGEX_MATCH_LIMIT);
    pcre2_set_depth_limit(re->mctx, EVB_REGEX_DEPTH_LIMIT);
    pcre2_set_heap_limit(re->mctx, EVB_REGEX_HEAP_LIMIT_KIB);
    re->simple = regex_simple_compile(pat, len); /* only after PCRE2 accepted the pattern */
    return re;
}

const regex_simple *regex_simple_of(const evb_regex *re)
{
    return re->simple;
}

int regex_match_simple(const evb_regex *re, const char *s, size_t n)
{
    return re->simple != NULL ? regex_simple_match(re->simple, s, n) : -1;
}

int regex_match(const evb_regex *re, const char *s, size_t n, pcre2_match_data *md)
{
    int rc = pcre2_match(re->code, (PCRE2_SPTR)s, n, 0, 0, md, re->mctx);
    if (rc >= 0)
        return 1;
    if (rc == PCRE2_ERROR_NOMATCH)
        return 0;
    return -1;
}

void regex_free(evb_regex *re)
{
    if (re == NULL)
        return;
    pcre2_code_free(re->code);
    pcre2_match_context_free(re->mctx);
    regex_simple_free(re->simple);
    free(re);
}
