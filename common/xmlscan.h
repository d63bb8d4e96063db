/* A small, strict scanner for the XML libvirt writes (domain and capabilities descriptions):
 * start elements with their attributes, by path, and on request the text of leaf elements. Not a
 * general XML parser: no DTDs, no namespaces; comments, processing instructions and CDATA are
 * skipped. Input is untrusted: malformed text ends the scan with an error, never reads out of
 * bounds. */
#ifndef VMB_XMLSCAN_H
#define VMB_XMLSCAN_H

#include <stdbool.h>
#include <stddef.h>

#define XMLSCAN_MAX_DEPTH 24
#define XMLSCAN_MAX_ATTRS 16

/* One attribute: NAME and VALUE point into the scanner's buffer, valid during the callback;
 * VALUE has its entities (&amp; &lt; &gt; &quot; &apos;) decoded. */
struct xmlscan_attr {
    const char *name;
    const char *value;
};

/* A start element: its path from the root ("domain/devices/memballoon", DEPTH names) and its
 * attributes; TEXT is NULL, except at the end of a leaf element under xmlscan_walk_text(). */
struct xmlscan_elem {
    const char *const *path;
    int depth;
    const struct xmlscan_attr *attrs;
    int nattrs;
    const char *text;
};

/* Called for every start element; returns false to stop the scan. */
typedef bool (*xmlscan_fn)(void *arg, const struct xmlscan_elem *e);

/* Scans XML, calling FN for each start element. Returns 0, or -1 when the text is malformed
 * (or out of memory); FN may have been called for the elements before the error. */
int xmlscan_walk(const char *xml, xmlscan_fn fn, void *arg);

/* Like xmlscan_walk(), and FN is called once more at the end of every leaf element (text only,
 * no child element, comment or CDATA), with its attributes and TEXT its text, entities decoded
 * and surrounding white space trimmed ("<shares>2048</shares>": "2048"). */
int xmlscan_walk_text(const char *xml, xmlscan_fn fn, void *arg);

/* True when E's path is PATH ("a/b/c"). */
bool xmlscan_is(const struct xmlscan_elem *e, const char *path);

/* The value of attribute NAME of E, or NULL. */
const char *xmlscan_get(const struct xmlscan_elem *e, const char *name);

/* Copies the value of attribute ATTR of the first element at PATH into OUT (LEN bytes).
 * Returns 1 when found (and it fit), 0 when absent, -1 on malformed XML or a value too long. */
int xmlscan_attr(const char *xml, const char *path, const char *attr, char *out, size_t len);

/* Returns 1 when an element at PATH exists, 0 when not, -1 on malformed XML. */
int xmlscan_exists(const char *xml, const char *path);

#endif
