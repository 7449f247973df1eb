/* evbctl — the command tree walker: option parsing, generated --help at every level,
 * usage errors, and the global options (accepted before and after the command words).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clients/evbctl/evbctl.h"

static const cli_opt global_opts[] = {
    {"addr", 'a', "HOST:PORT", "server address (env EVB_ADDR; default 127.0.0.1:50051)"},
    {"key", 0, "KEY", "API key (env EVB_API_KEY)"},
    {"key-file", 0, "FILE", "read the API key from FILE (env EVB_API_KEY_FILE)"},
    {"tls", 0, NULL, "use TLS (implied by --ca, --cert)"},
    {"ca", 0, "FILE", "TLS: PEM root certificates to trust (default: system roots)"},
    {"cert", 0, "FILE", "mutual TLS: PEM client certificate chain"},
    {"cert-key", 0, "FILE", "mutual TLS: PEM private key of --cert"},
    {"server-name", 0, "NAME", "TLS: expected server name (when it differs from the address)"},
    {"timeout", 0, "SECONDS", "deadline of each call (default 30)"},
    {"output", 'o', "FORMAT", "table (default), json or yaml"},
    {NULL, 0, NULL, NULL}};

/* "evbctl schemas list" -> "schemas list: " for messages (the prefix says evbctl). */
static const char *where(const char *path, char *buf, size_t n)
{
    if (strncmp(path, "evbctl ", 7) == 0)
        snprintf(buf, n, "%s: ", path + 7);
    else
        buf[0] = 0;
    return buf;
}

int cli_usage_error(const char *fmt, ...)
{
    va_list ap;
    fputs("evbctl: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs(" (see --help)\n", stderr);
    return EXIT_USAGE;
}

static void print_opts(const cli_opt *opts, FILE *f)
{
    for (const cli_opt *o = opts; o != NULL && o->name != NULL; o++) {
        char left[64];
        if (o->short_name)
            snprintf(left, sizeof left, "-%c, --%s%s%s", o->short_name, o->name, o->arg ? " " : "",
                     o->arg ? o->arg : "");
        else
            snprintf(left, sizeof left, "    --%s%s%s", o->name, o->arg ? " " : "",
                     o->arg ? o->arg : "");
        fprintf(f, "  %-30s %s\n", left, o->help);
    }
}

void cli_print_global_help(FILE *f)
{
    fputs("Global options (anywhere on the command line):\n", f);
    print_opts(global_opts, f);
    fputs("  -h, --help                     show help for the command\n", f);
}

static void group_help(const cli_node *node, const char *path, FILE *f)
{
    fprintf(f, "Usage: %s COMMAND [options]\n\n%s\n\nCommands:\n", path, node->summary);
    for (const cli_node *const *c = node->children; *c != NULL; c++)
        fprintf(f, "  %-16s %s\n", (*c)->name, (*c)->summary);
    fprintf(f, "\nRun '%s COMMAND --help' for a command's options.\n", path);
    if (node->help != NULL)
        fprintf(f, "\n%s", node->help);
}

static void leaf_help(const cli_node *node, const char *path, FILE *f)
{
    fprintf(f, "Usage: %s [options]%s%s\n\n%s\n", path, node->args_usage ? " " : "",
            node->args_usage ? node->args_usage : "", node->summary);
    if (node->opts != NULL && node->opts[0].name != NULL) {
        fputs("\nOptions:\n", f);
        print_opts(node->opts, f);
    }
    if (node->help != NULL)
        fprintf(f, "\n%s", node->help);
    fputs("\nGlobal options: --addr, --key, --key-file, --tls, --ca, --cert, --cert-key,\n"
          "--server-name, --timeout, -o table|json|yaml (see 'evbctl --help').\n",
          f);
}

/* Finds the option of argv[*i] in opts. Returns its index, -1 when not in the table,
 * -2 when its value is missing (error printed). */
static int match_opt(const cli_opt *opts, int argc, char **argv, int *i, const char **val)
{
    const char *a = argv[*i];
    const char *name = NULL, *inl = NULL;
    size_t nlen = 0;
    char sh = 0;
    if (a[0] == '-' && a[1] == '-') {
        name = a + 2;
        const char *eq = strchr(name, '=');
        nlen = eq ? (size_t)(eq - name) : strlen(name);
        inl = eq ? eq + 1 : NULL;
    } else if (a[0] == '-' && a[1] != 0) {
        sh = a[1];
        inl = a[2] ? a + 2 : NULL;
    } else {
        return -1;
    }
    for (int k = 0; opts[k].name != NULL; k++) {
        const cli_opt *o = &opts[k];
        int hit = name ? (strlen(o->name) == nlen && strncmp(o->name, name, nlen) == 0)
                       : (o->short_name && o->short_name == sh);
        if (!hit)
            continue;
        if (o->arg == NULL) {
            if (inl != NULL) {
                cli_usage_error("option %s takes no value", a);
                return -2;
            }
            *val = "1";
            return k;
        }
        if (inl != NULL) {
            *val = inl;
        } else if (*i + 1 < argc) {
            *val = argv[++*i];
        } else {
            cli_usage_error("option %s needs a value (%s)", a, o->arg);
            return -2;
        }
        return k;
    }
    return -1;
}

static int set_global(evbctl *ctx, int k, const char *v)
{
    const char *name = global_opts[k].name;
    if (strcmp(name, "addr") == 0)
        ctx->addr = v;
    else if (strcmp(name, "key") == 0)
        ctx->key = v;
    else if (strcmp(name, "key-file") == 0)
        ctx->key_file = v;
    else if (strcmp(name, "tls") == 0)
        ctx->tls = 1;
    else if (strcmp(name, "ca") == 0)
        ctx->ca_file = v, ctx->tls = 1;
    else if (strcmp(name, "cert") == 0)
        ctx->cert_file = v, ctx->tls = 1;
    else if (strcmp(name, "cert-key") == 0)
        ctx->cert_key_file = v, ctx->tls = 1;
    else if (strcmp(name, "server-name") == 0)
        ctx->server_name = v;
    else if (strcmp(name, "timeout") == 0) {
        char *end;
        double s = strtod(v, &end);
        if (*end != 0 || !(s > 0) || s > 86400)
            return cli_usage_error("--timeout: \"%s\" is not a number of seconds", v);
        ctx->timeout_ms = (int)(s * 1000);
        if (ctx->timeout_ms < 1)
            ctx->timeout_ms = 1;
    } else if (strcmp(name, "output") == 0) {
        if (strcmp(v, "table") == 0)
            ctx->fmt = FMT_TABLE;
        else if (strcmp(v, "json") == 0)
            ctx->fmt = FMT_JSON;
        else if (strcmp(v, "yaml") == 0)
            ctx->fmt = FMT_YAML;
        else
            return cli_usage_error("-o: \"%s\" is not one of table, json, yaml", v);
    }
    return 0;
}

static int is_help(const char *a)
{
    return strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0;
}

static int run_leaf(evbctl *ctx, const cli_node *node, const char *path, int argc, char **argv)
{
    static const cli_opt none[] = {{NULL, 0, NULL, NULL}};
    cli_args a;
    memset(&a, 0, sizeof(a));
    a.opts = node->opts ? node->opts : none;
    int only_pos = 0;
    for (int i = 0; i < argc; i++) {
        const char *s = argv[i];
        if (!only_pos && strcmp(s, "--") == 0) {
            only_pos = 1;
            continue;
        }
        if (!only_pos && s[0] == '-' && s[1] != 0) {
            if (is_help(s)) {
                leaf_help(node, path, stdout);
                return 0;
            }
            const char *v = NULL;
            int k = match_opt(a.opts, argc, argv, &i, &v);
            if (k == -2)
                return EXIT_USAGE;
            if (k >= 0) {
                a.val[k] = v;
                continue;
            }
            k = match_opt(global_opts, argc, argv, &i, &v);
            if (k == -2)
                return EXIT_USAGE;
            if (k >= 0) {
                int rc = set_global(ctx, k, v);
                if (rc != 0)
                    return rc;
                continue;
            }
            char w[256];
            return cli_usage_error("%sunknown option %s", where(path, w, sizeof w), s);
        }
        if (a.npos >= CLI_MAX_POS)
            return cli_usage_error("%s: too many arguments", path);
        a.pos[a.npos++] = s;
    }
    char w[256];
    where(path, w, sizeof w);
    if (a.npos < node->min_pos)
        return cli_usage_error("%smissing argument%s%s", w, node->args_usage ? " " : "",
                               node->args_usage ? node->args_usage : "");
    if (node->max_pos >= 0 && a.npos > node->max_pos)
        return cli_usage_error("%sunexpected argument \"%s\"", w, a.pos[node->max_pos]);
    return node->run(ctx, &a);
}

int cli_dispatch(evbctl *ctx, const cli_node *node, const char *path, int argc, char **argv)
{
    if (node->children == NULL)
        return run_leaf(ctx, node, path, argc, argv);
    int i = 0;
    for (; i < argc && argv[i][0] == '-' && argv[i][1] != 0; i++) {
        if (is_help(argv[i])) {
            group_help(node, path, stdout);
            if (strcmp(path, "evbctl") == 0) {
                fputc('\n', stdout);
                cli_print_global_help(stdout);
            }
            return 0;
        }
        const char *v = NULL;
        int k = match_opt(global_opts, argc, argv, &i, &v);
        if (k == -2)
            return EXIT_USAGE;
        char w[256];
        if (k < 0)
            return cli_usage_error("%sunknown option %s", where(path, w, sizeof w), argv[i]);
        int rc = set_global(ctx, k, v);
        if (rc != 0)
            return rc;
    }
    if (i == argc) {
        group_help(node, path, stderr);
        return EXIT_USAGE;
    }
    if (strcmp(argv[i], "help") == 0) {
        group_help(node, path, stdout);
        return 0;
    }
    for (const cli_node *const *c = node->children; *c != NULL; c++) {
        if (strcmp((*c)->name, argv[i]) == 0) {
            char sub[256];
            snprintf(sub, sizeof sub, "%s %s", path, (*c)->name);
            return cli_dispatch(ctx, *c, sub, argc - i - 1, argv + i + 1);
        }
    }
    char w[256];
    return cli_usage_error("%sunknown command \"%s\"", where(path, w, sizeof w), argv[i]);
}

const char *cli_get(const cli_args *a, const char *name)
{
    for (int k = 0; a->opts[k].name != NULL; k++)
        if (strcmp(a->opts[k].name, name) == 0)
            return a->val[k];
    return NULL;
}

int cli_flag(const cli_args *a, const char *name)
{
    return cli_get(a, name) != NULL;
}

int cli_int(const cli_args *a, const char *name, long long lo, long long hi, long long def,
            long long *out)
{
    const char *v = cli_get(a, name);
    if (v == NULL) {
        *out = def;
        return 0;
    }
    char *end;
    long long x = strtoll(v, &end, 10);
    if (v[0] == 0 || *end != 0 || x < lo || x > hi) {
        cli_usage_error("--%s: \"%s\" is not an integer in %lld..%lld", name, v, lo, hi);
        return -1;
    }
    *out = x;
    return 0;
}
