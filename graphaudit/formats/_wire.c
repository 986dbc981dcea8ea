/* The field walk and string work of graphaudit/formats/wire.py in C: node fields found record by
 * record, byte strings interned and looked up by their bytes. The same results as the numpy
 * path, which stays as the fallback when this optional extension is not built. */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

/* A growable int64 column, handed to Python as a bytearray (numpy views it without a copy). */
typedef struct { int64_t *v; Py_ssize_t len, cap; } Col;

static int push(Col *c, int64_t x) {
    if (c->len == c->cap) {
        Py_ssize_t cap = c->cap ? c->cap * 2 : 1024;
        int64_t *v = PyMem_Realloc(c->v, (size_t)cap * sizeof(int64_t));
        if (!v) { PyErr_NoMemory(); return -1; }
        c->v = v;
        c->cap = cap;
    }
    c->v[c->len++] = x;
    return 0;
}

static PyObject *col_bytes(Col *c) {
    return PyByteArray_FromStringAndSize((const char *)c->v, c->len * (Py_ssize_t)sizeof(int64_t));
}

/* The n columns as a tuple of bytearrays; None when the layout was not the usual one. */
static PyObject *columns(Col *cols, int n, int usual) {
    if (!usual) Py_RETURN_NONE;
    PyObject *result = PyTuple_New(n);
    if (!result) return NULL;
    for (int k = 0; k < n; k++) {
        PyObject *c = col_bytes(&cols[k]);
        if (!c) { Py_DECREF(result); return NULL; }
        PyTuple_SET_ITEM(result, k, c);
    }
    return result;
}

static int get_i64(PyObject *o, Py_buffer *b, const char *what) {
    if (PyObject_GetBuffer(o, b, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) return -1;
    if (b->itemsize != 8 || !b->format || (strcmp(b->format, "q") && strcmp(b->format, "l"))) {
        PyBuffer_Release(b);
        PyErr_Format(PyExc_TypeError, "%s must be an int64 array", what);
        return -1;
    }
    return 0;
}

/* A varint at p (below end): its value and the position after it; -1 when it is not one. */
static Py_ssize_t varint(const uint8_t *buf, Py_ssize_t p, Py_ssize_t end, int64_t *value) {
    uint64_t v = 0;
    for (int shift = 0; shift <= 63 && p < end; shift += 7) {
        uint8_t b = buf[p++];
        v |= (uint64_t)(b & 0x7F) << shift;
        if (b < 0x80) {
            *value = (int64_t)v;
            return p;
        }
    }
    return -1;
}

/* A length-delimited field with tag `tag` at *cur: its span, and *cur moved past it. 1 found, 0 not, -1 bad. */
static int field(const uint8_t *buf, Py_ssize_t *cur, Py_ssize_t end, uint8_t tag, int64_t *start, int64_t *len) {
    if (*cur >= end || buf[*cur] != tag) return 0;
    int64_t n;
    Py_ssize_t p = varint(buf, *cur + 1, end, &n);
    if (p < 0 || n < 0 || n > end - p) return -1;
    *start = p;
    *len = n;
    *cur = p + n;
    return 1;
}

enum { NAME = 0x0A, OP = 0x12, INPUT = 0x1A, DEVICE = 0x22, ATTR = 0x2A, LATER1 = 0x32, LATER2 = 0x3A };

/* walk(buf, body, end): the fields of each NodeDef in buf[body[i]:end[i]], in field-number order.
 * Returns (name_start, name_len, op_start, op_len, in_node, in_start, in_len, at_node, at_start,
 * at_len) as bytearrays of int64, or None when a node is not laid out that way. */
static PyObject *walk(PyObject *self, PyObject *args) {
    PyObject *bo, *so, *eo;
    if (!PyArg_ParseTuple(args, "OOO", &bo, &so, &eo)) return NULL;
    Py_buffer bb, sb, eb;
    if (PyObject_GetBuffer(bo, &bb, PyBUF_SIMPLE) < 0) return NULL;
    if (get_i64(so, &sb, "body") < 0) { PyBuffer_Release(&bb); return NULL; }
    if (get_i64(eo, &eb, "end") < 0) { PyBuffer_Release(&bb); PyBuffer_Release(&sb); return NULL; }
    const uint8_t *buf = bb.buf;
    const int64_t *body = sb.buf, *ends = eb.buf;
    Py_ssize_t n = sb.len / 8;
    Col cols[10];
    memset(cols, 0, sizeof cols);
    PyObject *result = NULL;
    int usual = eb.len / 8 == n;
    for (Py_ssize_t i = 0; usual && i < n; i++) {
        Py_ssize_t cur = body[i], end = ends[i];
        if (cur < 0 || end > bb.len || cur > end) { usual = 0; break; }
        int64_t s, l;
        int got = field(buf, &cur, end, NAME, &s, &l);
        if (got <= 0) { usual = 0; break; }
        if (push(&cols[0], s) < 0 || push(&cols[1], l) < 0) goto done;
        got = field(buf, &cur, end, OP, &s, &l);
        if (got <= 0) { usual = 0; break; }
        if (push(&cols[2], s) < 0 || push(&cols[3], l) < 0) goto done;
        while ((got = field(buf, &cur, end, INPUT, &s, &l)) == 1)
            if (push(&cols[4], i) < 0 || push(&cols[5], s) < 0 || push(&cols[6], l) < 0) goto done;
        if (got < 0 || field(buf, &cur, end, DEVICE, &s, &l) < 0) { usual = 0; break; }
        while ((got = field(buf, &cur, end, ATTR, &s, &l)) == 1)
            if (push(&cols[7], i) < 0 || push(&cols[8], s) < 0 || push(&cols[9], l) < 0) goto done;
        if (got < 0 || field(buf, &cur, end, LATER1, &s, &l) < 0 || field(buf, &cur, end, LATER2, &s, &l) < 0 ||
            cur != end) {
            usual = 0;
            break;
        }
    }
    result = columns(cols, 10, usual);
done:
    for (int k = 0; k < 10; k++) PyMem_Free(cols[k].v);
    PyBuffer_Release(&bb);
    PyBuffer_Release(&sb);
    PyBuffer_Release(&eb);
    return result;
}

/* records(buf): (start, body, end) of every node record of a serialized GraphDef, as bytearrays of
 * int64, when the node records (field 1) come first and back to back and the other top-level
 * fields after them are well formed; else None. */
static PyObject *records(PyObject *self, PyObject *args) {
    PyObject *bo;
    if (!PyArg_ParseTuple(args, "O", &bo)) return NULL;
    Py_buffer bb;
    if (PyObject_GetBuffer(bo, &bb, PyBUF_SIMPLE) < 0) return NULL;
    const uint8_t *buf = bb.buf;
    Py_ssize_t size = bb.len, p = 0;
    Col cols[3];
    memset(cols, 0, sizeof cols);
    PyObject *result = NULL;
    int usual = 1;
    while (p < size && buf[p] == NAME) {
        int64_t s, l;
        Py_ssize_t start = p;
        if (field(buf, &p, size, NAME, &s, &l) != 1) { usual = 0; break; }
        if (push(&cols[0], start) < 0 || push(&cols[1], s) < 0 || push(&cols[2], s + l) < 0) goto done;
    }
    /* The fields after the nodes (library, versions...): no node among them, and each well formed. */
    while (usual && p < size) {
        int64_t tag, v;
        p = varint(buf, p, size, &tag);
        if (p < 0 || tag == NAME || (tag >> 3) == 0) { usual = 0; break; }
        switch (tag & 7) {
        case 0: p = varint(buf, p, size, &v); break;
        case 1: p = p + 8 <= size ? p + 8 : -1; break;
        case 5: p = p + 4 <= size ? p + 4 : -1; break;
        case 2:
            p = varint(buf, p, size, &v);
            p = p >= 0 && v >= 0 && v <= size - p ? p + v : -1;
            break;
        default: p = -1;  /* groups: left to protobuf */
        }
        if (p < 0) usual = 0;
    }
    result = columns(cols, 3, usual);
done:
    for (int k = 0; k < 3; k++) PyMem_Free(cols[k].v);
    PyBuffer_Release(&bb);
    return result;
}

/* The arguments (buf, starts, lengths) of strings() and newline(): the three buffers, with as many
 * starts as lengths and every span inside buf. Their count, or -1 with an exception set and
 * nothing held. */
static Py_ssize_t span_args(PyObject *args, Py_buffer *bb, Py_buffer *sb, Py_buffer *lb) {
    PyObject *bo, *so, *lo;
    if (!PyArg_ParseTuple(args, "OOO", &bo, &so, &lo)) return -1;
    if (PyObject_GetBuffer(bo, bb, PyBUF_SIMPLE) < 0) return -1;
    if (get_i64(so, sb, "starts") < 0) { PyBuffer_Release(bb); return -1; }
    if (get_i64(lo, lb, "lengths") < 0) { PyBuffer_Release(bb); PyBuffer_Release(sb); return -1; }
    const int64_t *st = sb->buf, *ln = lb->buf;
    Py_ssize_t n = sb->len / 8;
    if (lb->len != sb->len) {
        PyErr_SetString(PyExc_ValueError, "starts and lengths differ in length");
        n = -1;
    }
    for (Py_ssize_t i = 0; i < n; i++)
        if (st[i] < 0 || ln[i] < 0 || st[i] + ln[i] > bb->len) {
            PyErr_SetString(PyExc_IndexError, "a span outside the buffer");
            n = -1;
        }
    if (n < 0) {
        PyBuffer_Release(bb);
        PyBuffer_Release(sb);
        PyBuffer_Release(lb);
    }
    return n;
}

/* strings(buf, starts, lengths): each span decoded as UTF-8 (errors replaced), or None when a
 * span holds a newline (the numpy path cannot split such names: both refuse them alike). */
static PyObject *strings(PyObject *self, PyObject *args) {
    Py_buffer bb, sb, lb;
    Py_ssize_t n = span_args(args, &bb, &sb, &lb);
    if (n < 0) return NULL;
    const char *buf = bb.buf;
    const int64_t *st = sb.buf, *ln = lb.buf;
    PyObject *out = NULL;
    for (Py_ssize_t i = 0; i < n; i++)
        if (memchr(buf + st[i], '\n', (size_t)ln[i])) { out = Py_None; Py_INCREF(out); goto done; }
    out = PyList_New(n);
    if (!out) goto done;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *s = PyUnicode_DecodeUTF8(buf + st[i], ln[i], "replace");
        if (!s) { Py_CLEAR(out); goto done; }
        PyList_SET_ITEM(out, i, s);
    }
done:
    PyBuffer_Release(&bb);
    PyBuffer_Release(&sb);
    PyBuffer_Release(&lb);
    return out;
}

/* newline(buf, starts, lengths): whether any span holds a newline. */
static PyObject *newline(PyObject *self, PyObject *args) {
    Py_buffer bb, sb, lb;
    Py_ssize_t n = span_args(args, &bb, &sb, &lb);
    if (n < 0) return NULL;
    const char *buf = bb.buf;
    const int64_t *st = sb.buf, *ln = lb.buf;
    int found = 0;
    for (Py_ssize_t i = 0; i < n && !found; i++) found = memchr(buf + st[i], '\n', (size_t)ln[i]) != NULL;
    PyBuffer_Release(&bb);
    PyBuffer_Release(&sb);
    PyBuffer_Release(&lb);
    return PyBool_FromLong(found);
}

/* An open-addressing table of byte spans of one buffer -> their first index. */
typedef struct { const uint8_t *buf; const int64_t *st, *ln; int64_t *slots; Py_ssize_t mask; } Spans;

static uint64_t hash_bytes(const uint8_t *p, int64_t n) {
    /* Eight bytes a step: node names run to tens of bytes. */
    uint64_t h = 0xCBF29CE484222325ULL ^ (uint64_t)n, w;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        memcpy(&w, p + i, 8);
        h = (h ^ w) * 0x9E3779B97F4A7C15ULL;
        h ^= h >> 32;
    }
    w = 0;
    memcpy(&w, p + i, (size_t)(n - i));
    h = (h ^ w) * 0x9E3779B97F4A7C15ULL;
    return h ^ (h >> 29);
}

/* The index of the first key equal to buf[s:s+l], or -1; *slot gets where it would go. */
static int64_t spans_find(Spans *t, const uint8_t *p, int64_t l, Py_ssize_t *slot) {
    Py_ssize_t s = (Py_ssize_t)(hash_bytes(p, l) & (uint64_t)t->mask);
    while (t->slots[s] >= 0) {
        int64_t k = t->slots[s];
        if (t->ln[k] == l && memcmp(t->buf + t->st[k], p, (size_t)l) == 0) return k;
        s = (s + 1) & t->mask;
    }
    *slot = s;
    return -1;
}

/* intern(buf, starts, lengths[, q_starts, q_lengths]): each span's code, distinct spans numbered
 * in order of first appearance, and the first index of each code. With queries: also each
 * query's first equal span index, or -1. Returns (codes, firsts[, found]) as bytearrays of int64. */
static PyObject *intern_spans(PyObject *self, PyObject *args) {
    PyObject *bo, *so, *lo, *qso = NULL, *qlo = NULL;
    if (!PyArg_ParseTuple(args, "OOO|OO", &bo, &so, &lo, &qso, &qlo)) return NULL;
    Py_buffer bb, sb, lb, qsb, qlb;
    int have_q = qso != NULL && qlo != NULL, got_q = 0;
    if (PyObject_GetBuffer(bo, &bb, PyBUF_SIMPLE) < 0) return NULL;
    if (get_i64(so, &sb, "starts") < 0) { PyBuffer_Release(&bb); return NULL; }
    if (get_i64(lo, &lb, "lengths") < 0) { PyBuffer_Release(&bb); PyBuffer_Release(&sb); return NULL; }
    PyObject *result = NULL;
    Col codes = {0}, firsts = {0}, found = {0};
    Spans t = {bb.buf, sb.buf, lb.buf, NULL, 0};
    Py_ssize_t n = sb.len / 8;
    if (have_q) {
        if (get_i64(qso, &qsb, "query starts") < 0) goto done;
        if (get_i64(qlo, &qlb, "query lengths") < 0) { PyBuffer_Release(&qsb); goto done; }
        got_q = 1;
    }
    if (lb.len / 8 != n || (got_q && qlb.len != qsb.len)) {
        PyErr_SetString(PyExc_ValueError, "starts and lengths differ in length");
        goto done;
    }
    Py_ssize_t size = 1024;
    while (size < 2 * n) size *= 2;
    t.slots = PyMem_Malloc((size_t)size * sizeof(int64_t));
    if (!t.slots) { PyErr_NoMemory(); goto done; }
    memset(t.slots, 0xFF, (size_t)size * sizeof(int64_t));
    t.mask = size - 1;
    /* code_of[first index] is kept in `codes` itself: a span's code is its first equal span's. */
    for (Py_ssize_t i = 0; i < n; i++) {
        if (t.st[i] < 0 || t.ln[i] < 0 || t.st[i] + t.ln[i] > bb.len) {
            PyErr_SetString(PyExc_IndexError, "a span outside the buffer");
            goto done;
        }
        Py_ssize_t slot;
        int64_t k = spans_find(&t, t.buf + t.st[i], t.ln[i], &slot);
        if (k < 0) {
            t.slots[slot] = i;
            if (push(&codes, firsts.len) < 0 || push(&firsts, i) < 0) goto done;
        } else if (push(&codes, codes.v[k]) < 0) {
            goto done;
        }
    }
    if (got_q) {
        const int64_t *qs = qsb.buf, *ql = qlb.buf;
        for (Py_ssize_t i = 0; i < qsb.len / 8; i++) {
            if (qs[i] < 0 || ql[i] < 0 || qs[i] + ql[i] > bb.len) {
                PyErr_SetString(PyExc_IndexError, "a span outside the buffer");
                goto done;
            }
            Py_ssize_t slot;
            if (push(&found, spans_find(&t, t.buf + qs[i], ql[i], &slot)) < 0) goto done;
        }
    }
    result = PyTuple_New(got_q ? 3 : 2);
    if (!result) goto done;
    Col *parts[3] = {&codes, &firsts, &found};
    for (int k = 0; k < (got_q ? 3 : 2); k++) {
        PyObject *c = col_bytes(parts[k]);
        if (!c) { Py_CLEAR(result); goto done; }
        PyTuple_SET_ITEM(result, k, c);
    }
done:
    PyMem_Free(t.slots);
    PyMem_Free(codes.v);
    PyMem_Free(firsts.v);
    PyMem_Free(found.v);
    if (got_q) { PyBuffer_Release(&qsb); PyBuffer_Release(&qlb); }
    PyBuffer_Release(&bb);
    PyBuffer_Release(&sb);
    PyBuffer_Release(&lb);
    return result;
}

static PyMethodDef methods[] = {
    {"records", records, METH_VARARGS, "Spans of the node records of a GraphDef laid out as usual, or None."},
    {"walk", walk, METH_VARARGS, "The fields of each NodeDef record, in field-number order, or None."},
    {"strings", strings, METH_VARARGS, "Byte spans as str, or None when one holds a newline."},
    {"newline", newline, METH_VARARGS, "Whether any byte span holds a newline."},
    {"intern", intern_spans, METH_VARARGS, "Codes of byte spans by first appearance, and query lookups."},
    {NULL}
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "graphaudit.formats._wire",
                                    "GraphDef wire scanning in C.", -1, methods};

PyMODINIT_FUNC PyInit__wire(void) { return PyModule_Create(&module); }
