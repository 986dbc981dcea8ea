/* The column read of graphaudit/formats/wire.py in C: node fields found record by record, ops
 * numbered, node names hashed into a table that inputs (and later Graph.index) are looked up in. The same results as the numpy
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

/* Whether the top-level fields from p on (after the node records: library, versions...) hold no
 * node and are each well formed. */
static int usual_tail(const uint8_t *buf, Py_ssize_t p, Py_ssize_t size) {
    while (p < size) {
        int64_t tag, v;
        p = varint(buf, p, size, &tag);
        if (p < 0 || tag == NAME || (tag >> 3) == 0) return 0;
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
        if (p < 0) return 0;
    }
    return 1;
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
    if (usual) usual = usual_tail(buf, p, size);
    result = columns(cols, 3, usual);
done:
    for (int k = 0; k < 3; k++) PyMem_Free(cols[k].v);
    PyBuffer_Release(&bb);
    return result;
}

/* The arguments (buf, starts, lengths) of strings(): the three buffers, with as many
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


/* ------------------------------------------------------------------------------------------------
 * scan(buf): the whole column read of formats/wire.py in one pass, for a GraphDef under 2 GiB. */

/* A growable column of fixed-size items in a bytearray, handed to Python as it is (no copy). */
typedef struct { PyObject *ba; char *p; Py_ssize_t len, cap; int size; } Out;

static int out_init(Out *o, int size, Py_ssize_t cap) {
    o->size = size;
    o->len = 0;
    o->cap = cap < 16 ? 16 : cap;
    o->ba = PyByteArray_FromStringAndSize(NULL, o->cap * size);
    o->p = o->ba ? PyByteArray_AS_STRING(o->ba) : NULL;
    return o->ba ? 0 : -1;
}

static int out_room(Out *o) {
    if (o->len < o->cap) return 0;
    Py_ssize_t cap = o->cap * 2;
    if (PyByteArray_Resize(o->ba, cap * o->size) < 0) return -1;
    o->cap = cap;
    o->p = PyByteArray_AS_STRING(o->ba);
    return 0;
}

#define PUT(o, type, x) do { if (out_room(o) < 0) goto fail; ((type *)(o)->p)[(o)->len++] = (type)(x); } while (0)
/* PUT where a jump would skip freeing: `ok` becomes 0 on failure. */
#define PUT_OR(o, type, x, ok) do { if (out_room(o) < 0) ok = 0; else ((type *)(o)->p)[(o)->len++] = (type)(x); } while (0)

#if defined(__GNUC__) || defined(__clang__)
#define PREFETCH(p) __builtin_prefetch(p)
#else
#define PREFETCH(p) ((void)0)
#endif
#define AHEAD 12  /* how many lookups ahead a hash slot is fetched */

/* The name table: open addressing over node name spans; a slot is empty when its idx1 is 0. */
typedef struct { uint32_t hash, idx1, start, len; } Slot;

static Py_ssize_t slot_find(const Slot *slots, Py_ssize_t mask, const uint8_t *buf, const uint8_t *p, uint32_t l,
                            uint32_t h, Py_ssize_t *free_slot) {
    Py_ssize_t s = (Py_ssize_t)(h & (uint32_t)mask);
    while (slots[s].idx1) {
        if (slots[s].hash == h && slots[s].len == l && memcmp(buf + slots[s].start, p, l) == 0)
            return (Py_ssize_t)slots[s].idx1 - 1;
        s = (s + 1) & mask;
    }
    if (free_slot) *free_slot = s;
    return -1;
}

static uint32_t hash32(const uint8_t *p, int64_t n) { return (uint32_t)(hash_bytes(p, n) >> 32); }

static int64_t vlen(int64_t v) {
    int64_t n = 1;
    while (v >= 128) { v >>= 7; n++; }
    return n;
}

/* AttrKind of artifact.py. */
enum { K_OTHER, K_TYPE, K_SHAPE, K_TENSOR, K_FUNC, K_LIST, K_LIST_SHAPE, K_LIST_FUNC, K_LIST_TENSOR };

static int8_t attr_kind(uint8_t value_tag, uint8_t list_tag) {
    switch (value_tag) {
    case 0x30: return K_TYPE;
    case 0x3A: return K_SHAPE;
    case 0x42: return K_TENSOR;
    case 0x52: return K_FUNC;
    case 0x0A:
        switch (list_tag) {
        case 0x3A: return K_LIST_SHAPE;
        case 0x42: return K_LIST_TENSOR;
        case 0x4A: return K_LIST_FUNC;
        default: return K_LIST;
        }
    default: return K_OTHER;
    }
}

/* The parts of one attr map entry whose content is buf[s:e]; 0, or -1 when it is not laid out as
 * key then value (the numpy path refuses the same). */
static int attr_entry(const uint8_t *buf, Py_ssize_t size, int64_t s, int64_t e, int64_t *key_start, int64_t *key_len,
                      int64_t *value_start, uint8_t *value_tag, uint8_t *list_tag) {
    if (e <= s || buf[s] != 0x0A) return -1;
    int64_t kl, vl = 0;
    Py_ssize_t p = varint(buf, s + 1, e, &kl);
    if (p < 0 || kl < 0 || kl > e - p) return -1;
    *key_start = p;
    *key_len = kl;
    int64_t key_end = p + kl, vs = e;
    if (key_end < e && buf[key_end] == 0x12) {
        p = varint(buf, key_end + 1, e, &vl);
        if (p < 0 || vl < 0 || vl != e - p) return -1;
        vs = p;
    } else if (key_end != e) {
        return -1;
    }
    *value_start = vs;
    *value_tag = e > vs ? buf[vs] : 0;
    *list_tag = 0;
    if (*value_tag == 0x0A) {
        int64_t ll;
        Py_ssize_t q = varint(buf, vs + 1, e, &ll);
        if (q < 0) return -1;
        if (ll > 0 && q < size) *list_tag = buf[q];
    }
    (void)size;
    return 0;
}

/* An input's port and the length of its node name, for `name:port` (at most 6 digits, the name
 * not empty; anything else is all name and port 0). */
static int64_t input_port(const uint8_t *p, int64_t len, int64_t *base_len) {
    int64_t value = 0;
    *base_len = len;
    for (int k = 1; k <= 7 && len - k > 0; k++) {
        uint8_t b = p[len - k];
        if (b == ':' && k > 1) {
            for (int d = k - 1; d >= 1; d--) value = value * 10 + (p[len - d] - '0');
            *base_len = len - k;
            return value;
        }
        if (b < '0' || b > '9') break;
    }
    return 0;
}

enum { S_BODY, S_END, S_NAME_START, S_NAME_LEN, S_OP_CODES, S_OP_SPANS, S_IN_OFFSETS, S_IN_NODES, S_IN_PORTS,
       S_CTRL_OFFSETS, S_CTRL_NODES, S_DANGLING, S_SLOTS, S_AT_NODE, S_AT_START, S_AT_END, S_AT_KEY_START,
       S_AT_KEY_LEN, S_AT_KEY_PREFIX, S_AT_VALUE_START, S_AT_VALUE_TAG, S_AT_LIST_TAG, S_AT_KIND, S_AT_TYPE_CODE,
       S_AT_PRIVATE, S_AT_OFFSETS, S_COUNT };

/* scan(buf): None when the GraphDef is not laid out as usual (node records as records() reads them,
 * each NodeDef's fields in field-number order, attr entries as key then value), when a name
 * is used twice, when a name, op or input holds a newline, or an input is `^` alone; else the
 * columns, in the order of the enum above: int64 except the attr entries' nodes and positions (int32), the
 * tags and kinds (one byte), the key prefixes (uint64), and the name table (Slot records, for
 * lookup()). Each distinct op comes as an int64 pair (start, length) of its first occurrence, and
 * each dangling input as an int64 triple (node, start, length). */
static PyObject *scan(PyObject *self, PyObject *args) {
    PyObject *bo;
    if (!PyArg_ParseTuple(args, "O", &bo)) return NULL;
    Py_buffer bb;
    if (PyObject_GetBuffer(bo, &bb, PyBUF_SIMPLE) < 0) return NULL;
    const uint8_t *buf = bb.buf;
    const Py_ssize_t size = bb.len;
    Out o[S_COUNT];
    memset(o, 0, sizeof o);
    Out in_start, in_len, in_node, name_hash;
    memset(&name_hash, 0, sizeof name_hash);
    memset(&in_start, 0, sizeof in_start);
    memset(&in_len, 0, sizeof in_len);
    memset(&in_node, 0, sizeof in_node);
    Slot *ops = NULL;
    PyObject *result = NULL;
    int usual = size < 0x7FFFFFFF;
    Py_ssize_t n = 0, p = 0;
    if (!usual) goto done;

    /* Node records: first and back to back; the fields after them well formed. */
    if (out_init(&o[S_BODY], 8, 1024) < 0 || out_init(&o[S_END], 8, 1024) < 0) goto fail;
    while (p < size && buf[p] == NAME) {
        int64_t s, l;
        if (field(buf, &p, size, NAME, &s, &l) != 1) { usual = 0; goto done; }
        PUT(&o[S_BODY], int64_t, s);
        PUT(&o[S_END], int64_t, s + l);
    }
    if (!usual_tail(buf, p, size)) { usual = 0; goto done; }
    n = o[S_BODY].len;
    const int64_t *body = (const int64_t *)o[S_BODY].p, *ends = (const int64_t *)o[S_END].p;

    static const int sizes[S_COUNT] = {8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 1, 4, 4, 4, 4, 4, 8, 4, 1, 1, 1, 1, 1, 8};
    for (int k = S_NAME_START; k < S_COUNT; k++) {
        Py_ssize_t cap = k <= S_OP_SPANS || k == S_IN_OFFSETS || k == S_CTRL_OFFSETS || k == S_AT_OFFSETS ? n + 1
                         : k >= S_AT_NODE ? 3 * n : k == S_DANGLING ? 16 : n;
        if (k == S_SLOTS) continue;
        if (out_init(&o[k], sizes[k], cap) < 0) goto fail;
    }
    if (out_init(&in_start, 8, n + n / 4) < 0 || out_init(&in_len, 8, n + n / 4) < 0 ||
        out_init(&in_node, 8, n + n / 4) < 0 || out_init(&name_hash, 4, n + 1) < 0)
        goto fail;
    Py_ssize_t table = 16;
    while (table < 2 * n) table *= 2;
    if (out_init(&o[S_SLOTS], (int)sizeof(Slot), table) < 0) goto fail;
    memset(o[S_SLOTS].p, 0, (size_t)table * sizeof(Slot));
    o[S_SLOTS].len = table;
    Slot *slots = (Slot *)o[S_SLOTS].p;
    Py_ssize_t mask = table - 1;
    Py_ssize_t op_mask = 255, op_count = 0;
    ops = PyMem_Calloc((size_t)op_mask + 1, sizeof(Slot));
    if (!ops) { PyErr_NoMemory(); goto fail; }
    PUT(&o[S_AT_OFFSETS], int64_t, 0);

    for (Py_ssize_t i = 0; i < n; i++) {
        Py_ssize_t cur = body[i], end = ends[i];
        int64_t s, l;
        /* The name: unique, no newline. */
        if (field(buf, &cur, end, NAME, &s, &l) != 1 || memchr(buf + s, '\n', (size_t)l)) { usual = 0; goto done; }
        PUT(&o[S_NAME_START], int64_t, s);
        PUT(&o[S_NAME_LEN], int64_t, l);
        PUT(&name_hash, uint32_t, hash32(buf + s, l));
        Py_ssize_t free_slot;
        uint32_t h;
        /* The op: its code, by first appearance. */
        if (field(buf, &cur, end, OP, &s, &l) != 1 || memchr(buf + s, '\n', (size_t)l)) { usual = 0; goto done; }
        h = hash32(buf + s, l);
        Py_ssize_t code = slot_find(ops, op_mask, buf, buf + s, (uint32_t)l, h, &free_slot);
        if (code < 0) {
            if (2 * (op_count + 1) > op_mask + 1) {  /* grow the op table (thousands of distinct ops) */
                Py_ssize_t bigger = 2 * (op_mask + 1);
                Slot *grown = PyMem_Calloc((size_t)bigger, sizeof(Slot));
                if (!grown) { PyErr_NoMemory(); goto fail; }
                for (Py_ssize_t k = 0; k <= op_mask; k++)
                    if (ops[k].idx1) {
                        Py_ssize_t t = ops[k].hash & (uint32_t)(bigger - 1);
                        while (grown[t].idx1) t = (t + 1) & (bigger - 1);
                        grown[t] = ops[k];
                    }
                PyMem_Free(ops);
                ops = grown;
                op_mask = bigger - 1;
                slot_find(ops, op_mask, buf, buf + s, (uint32_t)l, h, &free_slot);
            }
            code = op_count++;
            ops[free_slot] = (Slot){h, (uint32_t)(code + 1), (uint32_t)s, (uint32_t)l};
            PUT(&o[S_OP_SPANS], int64_t, s);  /* the op's span, for its name */
            PUT(&o[S_OP_SPANS], int64_t, l);
        }
        PUT(&o[S_OP_CODES], int64_t, code);
        int got;
        while ((got = field(buf, &cur, end, INPUT, &s, &l)) == 1) {
            if (memchr(buf + s, '\n', (size_t)l)) { usual = 0; goto done; }
            PUT(&in_node, int64_t, i);
            PUT(&in_start, int64_t, s);
            PUT(&in_len, int64_t, l);
        }
        if (got < 0 || field(buf, &cur, end, DEVICE, &s, &l) < 0) { usual = 0; goto done; }
        while ((got = field(buf, &cur, end, ATTR, &s, &l)) == 1) {
            int64_t ks, kl, vs;
            uint8_t vt, lt;
            if (attr_entry(buf, size, s, s + l, &ks, &kl, &vs, &vt, &lt) < 0) { usual = 0; goto done; }
            int8_t kind = attr_kind(vt, lt);
            uint64_t prefix = 0;
            for (int j = 0; j < 8; j++) prefix = (prefix << 8) | (j < kl ? buf[ks + j] : 0);
            PUT(&o[S_AT_NODE], int32_t, i);
            PUT(&o[S_AT_START], int32_t, s - 1 - vlen(l));
            PUT(&o[S_AT_END], int32_t, s + l);
            PUT(&o[S_AT_KEY_START], int32_t, ks);
            PUT(&o[S_AT_KEY_LEN], int32_t, kl);
            PUT(&o[S_AT_KEY_PREFIX], uint64_t, prefix);
            PUT(&o[S_AT_VALUE_START], int32_t, vs);
            PUT(&o[S_AT_VALUE_TAG], uint8_t, vt);
            PUT(&o[S_AT_LIST_TAG], uint8_t, lt);
            PUT(&o[S_AT_KIND], int8_t, kind);
            PUT(&o[S_AT_TYPE_CODE], uint8_t, kind == K_TYPE ? buf[vs + 1 < size ? vs + 1 : size - 1] : 0);
            PUT(&o[S_AT_PRIVATE], uint8_t, buf[ks < size ? ks : size - 1] == '_');
        }
        PUT(&o[S_AT_OFFSETS], int64_t, o[S_AT_NODE].len);
        if (got < 0 || field(buf, &cur, end, LATER1, &s, &l) < 0 || field(buf, &cur, end, LATER2, &s, &l) < 0 ||
            cur != end) {
            usual = 0;
            goto done;
        }
    }

    /* The name table. Slots are read at random: each is fetched a few names ahead of its use. */
    {
        const uint32_t *nh = (const uint32_t *)name_hash.p;
        const int64_t *ns = (const int64_t *)o[S_NAME_START].p, *nl = (const int64_t *)o[S_NAME_LEN].p;
        for (Py_ssize_t i = 0; i < n; i++) {
            if (i + AHEAD < n) PREFETCH(&slots[nh[i + AHEAD] & (uint32_t)mask]);
            Py_ssize_t free_slot;
            if (slot_find(slots, mask, buf, buf + ns[i], (uint32_t)nl[i], nh[i], &free_slot) >= 0) {
                usual = 0;  /* a name used twice */
                goto done;
            }
            slots[free_slot] = (Slot){nh[i], (uint32_t)(i + 1), (uint32_t)ns[i], (uint32_t)nl[i]};
        }
    }

    /* Inputs, now that every name is known: `^ctrl`, `name`, `name:port`, in order per node. First
     * each one's node name span, port (-1: a control input) and hash, then the lookups. */
    {
        const int64_t *is = (const int64_t *)in_start.p, *il = (const int64_t *)in_len.p,
                      *inode = (const int64_t *)in_node.p;
        Py_ssize_t m = in_start.len;
        int64_t *tmp = PyMem_Malloc((size_t)(3 * m + 1) * sizeof(int64_t));
        uint32_t *ih = PyMem_Malloc((size_t)(m + 1) * sizeof(uint32_t));
        if (!tmp || !ih) { PyMem_Free(tmp); PyMem_Free(ih); PyErr_NoMemory(); goto fail; }
        int64_t *bs = tmp, *bl = tmp + m, *pt = tmp + 2 * m;
        int ok = 1;
        for (Py_ssize_t k = 0; ok && k < m; k++) {
            const uint8_t *q = buf + is[k];
            if (il[k] > 0 && q[0] == '^') {
                pt[k] = -1;
                bl[k] = il[k] - 1;
                q++;
            } else {
                pt[k] = input_port(q, il[k], &bl[k]);
            }
            bs[k] = q - buf;
            ok = bl[k] > 0;
            if (ok) ih[k] = hash32(q, bl[k]);
        }
        if (!ok) { usual = 0; PyMem_Free(tmp); PyMem_Free(ih); goto done; }
        Py_ssize_t k = 0;
        PUT_OR(&o[S_IN_OFFSETS], int64_t, 0, ok);
        PUT_OR(&o[S_CTRL_OFFSETS], int64_t, 0, ok);
        for (Py_ssize_t i = 0; ok && i < n; i++) {
            for (; ok && k < m && inode[k] == i; k++) {
                if (k + AHEAD < m) PREFETCH(&slots[ih[k + AHEAD] & (uint32_t)mask]);
                Py_ssize_t j = slot_find(slots, mask, buf, buf + bs[k], (uint32_t)bl[k], ih[k], NULL);
                if (j < 0) {
                    PUT_OR(&o[S_DANGLING], int64_t, i, ok);
                    PUT_OR(&o[S_DANGLING], int64_t, is[k], ok);
                    PUT_OR(&o[S_DANGLING], int64_t, il[k], ok);
                } else if (pt[k] < 0) {
                    PUT_OR(&o[S_CTRL_NODES], int64_t, j, ok);
                } else {
                    PUT_OR(&o[S_IN_NODES], int64_t, j, ok);
                    PUT_OR(&o[S_IN_PORTS], int64_t, pt[k], ok);
                }
            }
            PUT_OR(&o[S_IN_OFFSETS], int64_t, o[S_IN_NODES].len, ok);
            PUT_OR(&o[S_CTRL_OFFSETS], int64_t, o[S_CTRL_NODES].len, ok);
        }
        PyMem_Free(tmp);
        PyMem_Free(ih);
        if (!ok) goto fail;
    }
    result = PyTuple_New(S_COUNT);
    if (!result) goto fail;
    for (int k = 0; k < S_COUNT; k++) {
        if (PyByteArray_Resize(o[k].ba, o[k].len * o[k].size) < 0) { Py_CLEAR(result); goto fail; }
        PyTuple_SET_ITEM(result, k, o[k].ba);
        o[k].ba = NULL;
    }
    goto done;
fail:
    Py_CLEAR(result);
    usual = 1;  /* an error is set: return NULL, not None */
done:
    for (int k = 0; k < S_COUNT; k++) Py_XDECREF(o[k].ba);
    Py_XDECREF(in_start.ba);
    Py_XDECREF(in_len.ba);
    Py_XDECREF(in_node.ba);
    Py_XDECREF(name_hash.ba);
    PyMem_Free(ops);
    PyBuffer_Release(&bb);
    if (!result && !usual) Py_RETURN_NONE;
    return result;
}

/* lookup(slots, buf, name): the node whose name is `name` (a str) in the table scan() built, or -1. */
static PyObject *lookup(PyObject *self, PyObject *args) {
    PyObject *to, *bo, *name;
    if (!PyArg_ParseTuple(args, "OOU", &to, &bo, &name)) return NULL;
    Py_ssize_t l;
    const char *p = PyUnicode_AsUTF8AndSize(name, &l);
    if (!p) {  /* lone surrogates: no node name holds them (names are UTF-8) */
        PyErr_Clear();
        return PyLong_FromLong(-1);
    }
    Py_buffer tb, bb;
    if (PyObject_GetBuffer(to, &tb, PyBUF_SIMPLE) < 0) return NULL;
    if (PyObject_GetBuffer(bo, &bb, PyBUF_SIMPLE) < 0) { PyBuffer_Release(&tb); return NULL; }
    Py_ssize_t table = tb.len / (Py_ssize_t)sizeof(Slot), found = -1;
    if (table > 0 && (table & (table - 1)) == 0 && l < 0xFFFFFFFF) {
        const Slot *slots = tb.buf;
        found = slot_find(slots, table - 1, bb.buf, (const uint8_t *)p, (uint32_t)l, hash32((const uint8_t *)p, l), NULL);
    }
    PyBuffer_Release(&tb);
    PyBuffer_Release(&bb);
    return PyLong_FromSsize_t(found);
}

/* Names: the node names of a scanned GraphDef as a read-only sequence of str, each decoded from
 * its span of the buffer when read (a million names held as str would be ~90 MB and 0.1 s). */
typedef struct {
    PyObject_HEAD
    Py_buffer buf, starts, lengths;  /* held for the object's life: the spans cannot move */
    Py_ssize_t n;
} Names;

static PyTypeObject NamesType;

static void names_dealloc(Names *self) {
    PyBuffer_Release(&self->buf);
    PyBuffer_Release(&self->starts);
    PyBuffer_Release(&self->lengths);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static Py_ssize_t names_len(Names *self) { return self->n; }

static PyObject *names_item(Names *self, Py_ssize_t i) {
    if (i < 0 || i >= self->n) {
        PyErr_SetString(PyExc_IndexError, "name index out of range");
        return NULL;
    }
    const int64_t *st = self->starts.buf, *ln = self->lengths.buf;
    return PyUnicode_DecodeUTF8((const char *)self->buf.buf + st[i], ln[i], "replace");
}

static PyObject *names_list(Names *self) {
    PyObject *out = PyList_New(self->n);
    for (Py_ssize_t i = 0; out && i < self->n; i++) {
        PyObject *s = names_item(self, i);
        if (!s) { Py_CLEAR(out); break; }
        PyList_SET_ITEM(out, i, s);
    }
    return out;
}

static PyObject *names_subscript(Names *self, PyObject *key) {
    if (PyIndex_Check(key)) {
        Py_ssize_t i = PyNumber_AsSsize_t(key, PyExc_IndexError);
        if (i == -1 && PyErr_Occurred()) return NULL;
        return names_item(self, i < 0 ? i + self->n : i);
    }
    if (PySlice_Check(key)) {
        Py_ssize_t start, stop, step;
        if (PySlice_Unpack(key, &start, &stop, &step) < 0) return NULL;
        Py_ssize_t count = PySlice_AdjustIndices(self->n, &start, &stop, step);
        PyObject *out = PyList_New(count);
        for (Py_ssize_t k = 0; out && k < count; k++) {
            PyObject *s = names_item(self, start + k * step);
            if (!s) { Py_CLEAR(out); break; }
            PyList_SET_ITEM(out, k, s);
        }
        return out;
    }
    PyErr_Format(PyExc_TypeError, "names indices must be integers or slices, not %.100s", Py_TYPE(key)->tp_name);
    return NULL;
}

/* Equal to any sequence a list of the same names equals (a list, another Names). */
static PyObject *names_richcompare(Names *self, PyObject *other, int op) {
    if (op != Py_EQ && op != Py_NE) Py_RETURN_NOTIMPLEMENTED;
    if (!PyList_Check(other) && !PyObject_TypeCheck(other, &NamesType)) Py_RETURN_NOTIMPLEMENTED;
    PyObject *mine = names_list(self);
    if (!mine) return NULL;
    PyObject *theirs = PyList_Check(other) ? (Py_INCREF(other), other) : names_list((Names *)other);
    PyObject *result = theirs ? PyObject_RichCompare(mine, theirs, op) : NULL;
    Py_DECREF(mine);
    Py_XDECREF(theirs);
    return result;
}

static PyObject *names_reduce(Names *self, PyObject *unused) {
    PyObject *list = names_list(self);  /* pickled as the list it stands for */
    if (!list) return NULL;
    return Py_BuildValue("(O(N))", (PyObject *)&PyList_Type, list);
}

static PyMethodDef names_methods[] = {
    {"__reduce__", (PyCFunction)names_reduce, METH_NOARGS, NULL},
    {NULL}
};

static PySequenceMethods names_as_sequence = {.sq_length = (lenfunc)names_len, .sq_item = (ssizeargfunc)names_item};
static PyMappingMethods names_as_mapping = {.mp_length = (lenfunc)names_len,
                                            .mp_subscript = (binaryfunc)names_subscript};

static PyTypeObject NamesType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "graphaudit.formats._wire.Names",
    .tp_doc = "Node names decoded from their spans of a GraphDef when read.",
    .tp_basicsize = sizeof(Names),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_SEQUENCE,
    .tp_dealloc = (destructor)names_dealloc,
    .tp_as_sequence = &names_as_sequence,
    .tp_as_mapping = &names_as_mapping,
    .tp_richcompare = (richcmpfunc)names_richcompare,
    .tp_hash = PyObject_HashNotImplemented,
    .tp_methods = names_methods,
};

/* names(buf, starts, lengths): a Names over those spans (every span checked to lie inside buf). */
static PyObject *names_new(PyObject *module, PyObject *args) {
    Names *self = PyObject_New(Names, &NamesType);
    if (!self) return NULL;
    Py_ssize_t n = span_args(args, &self->buf, &self->starts, &self->lengths);
    if (n < 0) {
        Py_TYPE(self)->tp_free((PyObject *)self);
        return NULL;
    }
    self->n = n;
    return (PyObject *)self;
}

static PyMethodDef methods[] = {
    {"records", records, METH_VARARGS, "Spans of the node records of a GraphDef laid out as usual, or None."},
    {"strings", strings, METH_VARARGS, "Byte spans as str, or None when one holds a newline."},
    {"scan", scan, METH_VARARGS, "The columns of a GraphDef laid out as usual, in one pass, or None."},
    {"lookup", lookup, METH_VARARGS, "A node's index in the name table scan() built, or -1."},
    {"names", names_new, METH_VARARGS, "Node names decoded from their spans when read."},
    {NULL}
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "graphaudit.formats._wire",
                                    "GraphDef wire scanning in C.", -1, methods};

PyMODINIT_FUNC PyInit__wire(void) {
    if (PyType_Ready(&NamesType) < 0) return NULL;
    PyObject *m = PyModule_Create(&module);
    if (!m) return NULL;
    Py_INCREF(&NamesType);
    if (PyModule_AddObject(m, "Names", (PyObject *)&NamesType) < 0) {
        Py_DECREF(&NamesType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
