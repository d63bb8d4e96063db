/* A small, strict scanner for libvirt's XML (see xmlscan.h). */
#include "xmlscan.h"

#include <stdlib.h>
#include <string.h>

struct scan {
    char *p; /* the mutable copy being scanned */
    const char *path[XMLSCAN_MAX_DEPTH];
    int depth;
    struct xmlscan_attr attrs[XMLSCAN_MAX_ATTRS];
    int nattrs;
    bool want_text; /* call back at the end of leaf elements */
    char *leaf;     /* where the innermost open element's text starts, while it is a leaf */
};

static bool is_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == ':' || c == '.' || c == '-';
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static void skip_space(struct scan *s)
{
    while (is_space(*s->p))
        s->p++;
}

/* Skips past the next occurrence of END; false when there is none. */
static bool skip_past(struct scan *s, const char *end)
{
    char *q = strstr(s->p, end);

    if (!q)
        return false;
    s->p = q + strlen(end);
    return true;
}

/* Skips a name at the cursor and returns its start (the caller terminates it once past it), or
 * NULL when there is no name. */
static char *read_name(struct scan *s)
{
    char *start = s->p;

    while (is_name_char(*s->p))
        s->p++;
    return s->p == start ? NULL : start;
}

/* Terminates the name at NAME (it ends where name characters end). */
static void end_name(char *name)
{
    while (is_name_char(*name))
        name++;
    *name = '\0';
}

/* Decodes the five predefined entities of V in place; false on any other '&'. */
static bool decode(char *v)
{
    static const struct {
        const char *ent;
        char c;
    } ents[] = {{"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
    char *out = v;

    while (*v) {
        size_t k = 0;
        if (*v != '&') {
            *out++ = *v++;
            continue;
        }
        while (k < sizeof(ents) / sizeof(ents[0]) &&
               strncmp(v, ents[k].ent, strlen(ents[k].ent)) != 0)
            k++;
        if (k == sizeof(ents) / sizeof(ents[0]))
            return false;
        *out++ = ents[k].c;
        v += strlen(ents[k].ent);
    }
    *out = '\0';
    return true;
}

/* Reads one attribute (name = 'value' or "value") at the cursor into S->attrs. */
static bool read_attr(struct scan *s)
{
    char quote, *name, *value, *end;

    name = read_name(s);
    if (!name)
        return false;
    skip_space(s);
    if (*s->p != '=')
        return false;
    s->p++;
    skip_space(s);
    quote = *s->p;
    if (quote != '\'' && quote != '"')
        return false;
    value = ++s->p;
    end = strchr(value, quote);
    if (!end || memchr(value, '<', (size_t)(end - value)))
        return false;
    *end = '\0';
    s->p = end + 1;
    end_name(name);
    if (!decode(value) || s->nattrs == XMLSCAN_MAX_ATTRS)
        return false;
    s->attrs[s->nattrs++] = (struct xmlscan_attr){name, value};
    return true;
}

/* A start tag at the cursor (after '<'): its name, attributes and the callback. Returns 1 to go
 * on, 0 when the callback stopped the scan, -1 on malformed text. */
static int start_tag(struct scan *s, xmlscan_fn fn, void *arg)
{
    char *name = read_name(s);
    bool empty = false;
    struct xmlscan_elem e;

    if (!name || s->depth == XMLSCAN_MAX_DEPTH)
        return -1;
    s->nattrs = 0;
    for (;;) {
        bool spaced = is_space(*s->p);
        skip_space(s);
        if (*s->p == '>' || (s->p[0] == '/' && s->p[1] == '>'))
            break;
        if (!spaced || !read_attr(s))
            return -1;
    }
    empty = *s->p == '/';
    s->p += empty ? 2 : 1;
    end_name(name);
    s->path[s->depth++] = name;
    s->leaf = empty ? NULL : s->p;
    e = (struct xmlscan_elem){s->path, s->depth, s->attrs, s->nattrs, NULL};
    if (!fn(arg, &e))
        return 0;
    if (empty)
        s->depth--;
    return 1;
}

/* An end tag at the cursor (after "</"): must close the innermost open element. */
static bool end_tag(struct scan *s)
{
    char *name = read_name(s);

    if (!name || s->depth == 0)
        return false;
    skip_space(s);
    if (*s->p != '>')
        return false;
    s->p++;
    end_name(name);
    return strcmp(name, s->path[--s->depth]) == 0;
}

/* Trims the white space around TEXT in place; returns its start. */
static char *trim(char *text)
{
    char *end = text + strlen(text);

    while (is_space(*text))
        text++;
    while (end > text && is_space(end[-1]))
        *--end = '\0';
    return text;
}

/* The end of the leaf element just closed, whose text runs from TEXT to LT (the '<' of its end
 * tag): the callback with that text. Returns 1 to go on, 0 when the callback stopped the scan,
 * -1 on malformed text. */
static int leaf_text(struct scan *s, char *text, char *lt, xmlscan_fn fn, void *arg)
{
    struct xmlscan_elem e = {s->path, s->depth + 1, s->attrs, s->nattrs, NULL};

    *lt = '\0'; /* the end tag is read: the text ends here */
    if (!decode(text))
        return -1;
    e.text = trim(text);
    return fn(arg, &e) ? 1 : 0;
}

/* One markup construct at the cursor ('<'). Returns 1 to go on, 0 to stop, -1 on error. */
static int markup(struct scan *s, xmlscan_fn fn, void *arg)
{
    char *lt = s->p, *leaf = s->leaf;

    s->leaf = NULL; /* the element holds more than text, unless this is its end tag */
    if (strncmp(s->p, "<!--", 4) == 0)
        return skip_past(s, "-->") ? 1 : -1;
    if (strncmp(s->p, "<![CDATA[", 9) == 0)
        return skip_past(s, "]]>") ? 1 : -1;
    if (strncmp(s->p, "<?", 2) == 0)
        return skip_past(s, "?>") ? 1 : -1;
    if (strncmp(s->p, "<!", 2) == 0)
        return skip_past(s, ">") ? 1 : -1;
    if (strncmp(s->p, "</", 2) == 0) {
        s->p += 2;
        if (!end_tag(s))
            return -1;
        return leaf && s->want_text ? leaf_text(s, leaf, lt, fn, arg) : 1;
    }
    s->p++;
    return start_tag(s, fn, arg);
}

/* Scans XML, with the leaf elements' text when WANT_TEXT. */
static int walk(const char *xml, xmlscan_fn fn, void *arg, bool want_text)
{
    struct scan s = {.want_text = want_text};
    char *copy = xml ? strdup(xml) : NULL;
    int rc = -1;

    if (!copy)
        return -1;
    s.p = copy;
    for (;;) {
        char *lt = strchr(s.p, '<');
        int r;
        if (!lt) {
            rc = s.depth == 0 ? 0 : -1; /* an element left open is malformed */
            break;
        }
        s.p = lt;
        r = markup(&s, fn, arg);
        if (r <= 0) {
            rc = r;
            break;
        }
    }
    free(copy);
    return rc;
}

int xmlscan_walk(const char *xml, xmlscan_fn fn, void *arg)
{
    return walk(xml, fn, arg, false);
}

int xmlscan_walk_text(const char *xml, xmlscan_fn fn, void *arg)
{
    return walk(xml, fn, arg, true);
}

bool xmlscan_is(const struct xmlscan_elem *e, const char *path)
{
    for (int i = 0; i < e->depth; i++) {
        size_t n = strlen(e->path[i]);
        if (strncmp(path, e->path[i], n) != 0)
            return false;
        path += n;
        if (i + 1 < e->depth) {
            if (*path != '/')
                return false;
            path++;
        }
    }
    return *path == '\0';
}

const char *xmlscan_get(const struct xmlscan_elem *e, const char *name)
{
    for (int i = 0; i < e->nattrs; i++)
        if (strcmp(e->attrs[i].name, name) == 0)
            return e->attrs[i].value;
    return NULL;
}

/* What xmlscan_attr() and xmlscan_exists() look for, and what they found. */
struct query {
    const char *path, *attr;
    char *out;
    size_t len;
    int found; /* 1 found, -1 too long */
};

static bool query_fn(void *arg, const struct xmlscan_elem *e)
{
    struct query *q = arg;
    const char *v;

    if (!xmlscan_is(e, q->path))
        return true;
    if (!q->attr) {
        q->found = 1;
        return false;
    }
    v = xmlscan_get(e, q->attr);
    if (!v)
        return true;
    q->found = strlen(v) < q->len ? 1 : -1;
    if (q->found == 1)
        memcpy(q->out, v, strlen(v) + 1);
    return false;
}

int xmlscan_attr(const char *xml, const char *path, const char *attr, char *out, size_t len)
{
    struct query q = {path, attr, out, len, 0};

    if (xmlscan_walk(xml, query_fn, &q) < 0 && q.found == 0)
        return -1;
    return q.found;
}

int xmlscan_exists(const char *xml, const char *path)
{
    struct query q = {path, NULL, NULL, 0, 0};

    if (xmlscan_walk(xml, query_fn, &q) < 0 && q.found == 0)
        return -1;
    return q.found;
}
