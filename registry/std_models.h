/* evbridge registry — the built-in standard data models (public API).
 *
 * std.customer, std.product, std.contract and std.order: JSON Schema 2020-12 documents for
 * what CRM, ERP and finance ISVs exchange, shipped inside the binary so a fresh server can
 * register them without files or network. Each has "$id" evb://registry/models/<subject> (a
 * name, not a location) and an example payload that validates. docs/data-models.md describes
 * the fields and the design choices (money as decimal strings, closed top level with
 * custom_fields as the extension point, external ids, evolution).
 *
 * registry/models/<subject>.json and <subject>.example.json hold the same texts as files;
 * a unit test keeps them byte-identical to the embedded strings.
 */
#ifndef EVB_REGISTRY_STD_MODELS_H
#define EVB_REGISTRY_STD_MODELS_H

#include <stddef.h>

typedef struct evb_std_model {
    const char *subject;      /* "std.customer" */
    const char *title;        /* "Customer" */
    const char *schema_json;  /* the schema, NUL-terminated JSON text */
    const char *example_json; /* a payload valid under the schema */
} evb_std_model;

/* The standard models, in a fixed order; *n receives their number (n may be NULL). The
 * array and its strings are static and immutable. Thread-safe. */
const evb_std_model *evb_std_models(size_t *n);

/* The model registered under subject, or NULL (also for NULL subject). Thread-safe. */
const evb_std_model *evb_std_model_find(const char *subject);

#endif
