/* Structural class ids of graph nodes, bottom-up in a given order: the loop of
 * graphaudit/analysis/structure.py (_Hasher.run) in C, with the same ids, for graphs with a
 * million nodes whose dependency chains are too deep for whole-array passes; the graph walks of
 * reachability.py and graph_algorithms.py, the attr runs of node_keys.py, and the per-name string
 * tests of graphaudit/bulk.py. Optional: without a compiler, each runs as its Python twin. */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

enum { DATA = 0, CONST = 1, PARAM = 2 };

/* An interning table of int32 tuples: open addressing over slots that point at stored keys. Class
 * ids, local ids and output ports all fit in 32 bits (TensorFlow numbers outputs with an int32). */
typedef struct {
    PyObject_HEAD
    int32_t *recs;      /* every key, back to back: its length, its class id, then its values */
    Py_ssize_t recs_len, recs_cap;
    Py_ssize_t count;   /* keys held */
    uint64_t *slots;    /* hash slot -> (hash tag << 40) | (offset of its record + 1); 0: empty */
    Py_ssize_t nslots;  /* a power of two */
    int8_t *kinds;      /* class id -> kind */
    Py_ssize_t nkinds, kinds_cap;
} Table;

#define OFFSET_BITS 40
#define FITS32(v) ((v) >= INT32_MIN && (v) <= INT32_MAX)
#define OFFSET_MASK ((1ULL << OFFSET_BITS) - 1)

static uint64_t hash_key(const int32_t *k, Py_ssize_t len) {
    uint64_t h = 0x9E3779B97F4A7C15ULL ^ (uint64_t)len;
    for (Py_ssize_t i = 0; i < len; i++) {
        h ^= (uint64_t)(uint32_t)k[i] + 0x9E3779B97F4A7C15ULL + (h << 6) + (h >> 2);
        h *= 0xFF51AFD7ED558CCDULL;
    }
    return h ^ (h >> 29);
}

static int grow(void **buf, Py_ssize_t *cap, Py_ssize_t need, size_t item) {
    if (need <= *cap) return 0;
    Py_ssize_t c = *cap ? *cap : 1024;
    while (c < need) c *= 2;
    void *p = PyMem_Realloc(*buf, (size_t)c * item);
    if (!p) { PyErr_NoMemory(); return -1; }
    *buf = p;
    *cap = c;
    return 0;
}

static int rehash(Table *t, Py_ssize_t nslots) {
    uint64_t *slots = PyMem_Calloc((size_t)nslots, sizeof(uint64_t));
    if (!slots) { PyErr_NoMemory(); return -1; }
    uint64_t mask = (uint64_t)(nslots - 1);
    for (Py_ssize_t off = 0; off < t->recs_len; off += 2 + t->recs[off]) {
        uint64_t h = hash_key(t->recs + off + 2, t->recs[off]);
        uint64_t s = h & mask;
        while (slots[s]) s = (s + 1) & mask;
        slots[s] = (h >> OFFSET_BITS << OFFSET_BITS) | (uint64_t)(off + 1);
    }
    PyMem_Free(t->slots);
    t->slots = slots;
    t->nslots = nslots;
    return 0;
}

/* The record holding key k (length len), or NULL; *slot_out gets the slot to insert it at. */
static const int32_t *find(Table *t, const int32_t *k, Py_ssize_t len, uint64_t *slot_out, uint64_t *hash_out) {
    uint64_t mask = (uint64_t)(t->nslots - 1);
    uint64_t h = hash_key(k, len), tag = h >> OFFSET_BITS;
    uint64_t s = h & mask;
    for (uint64_t got; (got = t->slots[s]); s = (s + 1) & mask) {
        if (got >> OFFSET_BITS != tag) continue;
        const int32_t *rec = t->recs + (got & OFFSET_MASK) - 1;
        if (rec[0] == len && memcmp(rec + 2, k, (size_t)len * sizeof(int32_t)) == 0) return rec;
    }
    *slot_out = s;
    *hash_out = h;
    return NULL;
}

static int insert(Table *t, const int32_t *k, Py_ssize_t len, uint64_t slot, uint64_t h, int64_t id) {
    if (grow((void **)&t->recs, &t->recs_cap, t->recs_len + len + 2, sizeof(int32_t)) < 0) return -1;
    if ((uint64_t)t->recs_len + 1 > OFFSET_MASK) { PyErr_SetString(PyExc_OverflowError, "too many keys"); return -1; }
    int32_t *rec = t->recs + t->recs_len;
    rec[0] = (int32_t)len;
    rec[1] = (int32_t)id;
    memcpy(rec + 2, k, (size_t)len * sizeof(int32_t));
    t->slots[slot] = (h >> OFFSET_BITS << OFFSET_BITS) | (uint64_t)(t->recs_len + 1);
    t->recs_len += len + 2;
    t->count++;
    if (t->count * 2 > t->nslots) return rehash(t, t->nslots * 2);
    return 0;
}

static int add_kind(Table *t, int8_t kind) {
    if (t->nkinds >= INT32_MAX) { PyErr_SetString(PyExc_OverflowError, "too many classes"); return -1; }
    if (grow((void **)&t->kinds, &t->kinds_cap, t->nkinds + 1, 1) < 0) return -1;
    t->kinds[t->nkinds++] = kind;
    return 0;
}

static PyObject *Table_new(PyTypeObject *type, PyObject *args, PyObject *kw) {
    Table *t = (Table *)type->tp_alloc(type, 0);
    if (!t) return NULL;
    if (rehash(t, 1024) < 0 || add_kind(t, DATA) < 0) {  /* class 0 is DATA */
        Py_DECREF(t);
        return NULL;
    }
    return (PyObject *)t;
}

static void Table_dealloc(Table *t) {
    PyMem_Free(t->recs);
    PyMem_Free(t->slots);
    PyMem_Free(t->kinds);
    Py_TYPE(t)->tp_free((PyObject *)t);
}

/* A key tuple as int32 values; 1 when a value cannot be held (so no key equals it), -1 on error. */
static int tuple_key(PyObject *key, int32_t **out, Py_ssize_t *len) {
    if (!PyTuple_Check(key)) { PyErr_SetString(PyExc_TypeError, "a key is a tuple of ints"); return -1; }
    *len = PyTuple_GET_SIZE(key);
    *out = PyMem_Malloc((size_t)(*len ? *len : 1) * sizeof(int32_t));
    if (!*out) { PyErr_NoMemory(); return -1; }
    for (Py_ssize_t i = 0; i < *len; i++) {
        long long v = PyLong_AsLongLong(PyTuple_GET_ITEM(key, i));
        if (v == -1 && PyErr_Occurred()) {
            PyMem_Free(*out);
            if (!PyErr_ExceptionMatches(PyExc_OverflowError)) return -1;
            PyErr_Clear();
            return 1;
        }
        if (v < INT32_MIN || v > INT32_MAX) { PyMem_Free(*out); return 1; }
        (*out)[i] = (int32_t)v;
    }
    return 0;
}

static PyObject *Table_get(Table *t, PyObject *key) {
    int32_t *k;
    Py_ssize_t len;
    uint64_t slot, h;
    int got = tuple_key(key, &k, &len);
    if (got < 0) return NULL;
    if (got > 0) Py_RETURN_NONE;
    const int32_t *rec = find(t, k, len, &slot, &h);
    PyMem_Free(k);
    if (!rec) Py_RETURN_NONE;
    return PyLong_FromLong(rec[1]);
}

static PyObject *Table_kinds(Table *t, PyObject *unused) {
    return PyBytes_FromStringAndSize((const char *)t->kinds, t->nkinds);
}

static Py_ssize_t Table_len(Table *t) { return t->count; }

static PyTypeObject TableType;

typedef struct { Py_buffer b; int ok; } Buf;

static int get_buf(PyObject *o, Buf *out, int writable, const char *what) {
    out->ok = 0;
    if (PyObject_GetBuffer(o, &out->b, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | (writable ? PyBUF_WRITABLE : 0)) < 0)
        return -1;
    out->ok = 1;
    if (out->b.itemsize != 8 || !out->b.format || (strcmp(out->b.format, "q") && strcmp(out->b.format, "l"))) {
        PyErr_Format(PyExc_TypeError, "%s must be an int64 array", what);
        return -1;
    }
    return 0;
}

static void release(Buf *b) { if (b->ok) PyBuffer_Release(&b->b); }

/* A column of 4- or 8-byte integers (signed, or unsigned when ``is_unsigned``), read as int64/uint64. */
typedef struct { Py_buffer b; int ok, size, is_unsigned; Py_ssize_t len; } IntCol;

static int get_ints(PyObject *o, IntCol *out, const char *what) {
    out->ok = 0;
    if (PyObject_GetBuffer(o, &out->b, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) return -1;
    out->ok = 1;
    const char *f = out->b.format ? out->b.format : "B";
    if (*f == '<' || *f == '=' || *f == '@') f++;
    out->size = (int)out->b.itemsize;
    out->is_unsigned = strchr("BHILQN?", *f) != NULL;
    if (!(out->size == 4 || out->size == 8) || !strchr("ilqIQLn", *f)) {
        PyErr_Format(PyExc_TypeError, "%s must be an array of 32- or 64-bit integers", what);
        return -1;
    }
    out->len = out->b.len / out->size;
    return 0;
}

static inline int64_t int_at(const IntCol *c, Py_ssize_t i) {
    if (c->size == 8) return ((const int64_t *)c->b.buf)[i];
    return c->is_unsigned ? (int64_t)((const uint32_t *)c->b.buf)[i] : (int64_t)((const int32_t *)c->b.buf)[i];
}

static inline uint64_t uint_at(const IntCol *c, Py_ssize_t i) {
    if (c->size == 8) return ((const uint64_t *)c->b.buf)[i];
    return c->is_unsigned ? (uint64_t)((const uint32_t *)c->b.buf)[i] : (uint64_t)(int64_t)((const int32_t *)c->b.buf)[i];
}

static void release_ints(IntCol *c) { if (c->ok) PyBuffer_Release(&c->b); }

/* run(table_a, table_e, order, offsets, flat, ports, local_a, local_e, kinds_local, ca, ce, slot)
 * classes the nodes of ``order``: ca/ce (n + 1 entries, the last the back-edge marker -1) get
 * each node's abstract and exact class; ``slot`` (n entries) names an input read as DATA, or -1. */
static PyObject *run(PyObject *self, PyObject *args) {
    Table *ta, *te;
    PyObject *objs[10];
    PyTypeObject *type = &TableType;
    if (!PyArg_ParseTuple(args, "O!O!OOOOOOOOOO", type, &ta, type, &te, &objs[0], &objs[1], &objs[2], &objs[3],
                          &objs[4], &objs[5], &objs[6], &objs[7], &objs[8], &objs[9]))
        return NULL;
    static const char *names[10] = {"order", "offsets", "flat", "ports", "local_a", "local_e", "kinds_local",
                                    "ca", "ce", "slot"};
    Buf b[10];
    memset(b, 0, sizeof b);
    PyObject *result = NULL;
    int32_t *ka = NULL, *ke = NULL;
    for (int i = 0; i < 10; i++)
        if (get_buf(objs[i], &b[i], i == 7 || i == 8, names[i]) < 0) goto done;
    {
        const int64_t *order = b[0].b.buf, *offsets = b[1].b.buf, *flat = b[2].b.buf, *ports = b[3].b.buf;
        const int64_t *local_a = b[4].b.buf, *local_e = b[5].b.buf, *kinds_local = b[6].b.buf, *slot = b[9].b.buf;
        int64_t *ca = b[7].b.buf, *ce = b[8].b.buf;
        Py_ssize_t count = b[0].b.len / 8, n = b[4].b.len / 8, nflat = b[2].b.len / 8;
        if (b[1].b.len / 8 != n + 1 || b[3].b.len / 8 != nflat || b[5].b.len / 8 != n || b[6].b.len / 8 != n ||
            b[7].b.len / 8 != n + 1 || b[8].b.len / 8 != n + 1 || b[9].b.len / 8 != n || offsets[n] != nflat) {
            PyErr_SetString(PyExc_ValueError, "arrays of inconsistent lengths");
            goto done;
        }
        Py_ssize_t widest = 0;
        for (Py_ssize_t i = 0; i < n; i++)
            if (offsets[i + 1] - offsets[i] > widest) widest = offsets[i + 1] - offsets[i];
        ka = PyMem_Malloc((size_t)(2 * widest + 1) * sizeof(int32_t));
        ke = PyMem_Malloc((size_t)(2 * widest + 1) * sizeof(int32_t));
        if (!ka || !ke) { PyErr_NoMemory(); goto done; }
        for (Py_ssize_t q = 0; q < count; q++) {
            int64_t i = order[q];
            if (i < 0 || i >= n) { PyErr_SetString(PyExc_IndexError, "node id out of range"); goto done; }
            int64_t o0 = offsets[i], arity = offsets[i + 1] - o0;
            Py_ssize_t len = 1 + 2 * arity;
            if (!FITS32(local_a[i]) || !FITS32(local_e[i])) {
                PyErr_SetString(PyExc_OverflowError, "a local id past 32 bits");
                goto done;
            }
            ka[0] = (int32_t)local_a[i];
            ke[0] = (int32_t)local_e[i];
            for (int64_t s = 0; s < arity; s++) {
                int64_t j = flat[o0 + s];
                if (j < 0 || j > n) { PyErr_SetString(PyExc_IndexError, "input id out of range"); goto done; }
                int data = slot[i] == s;
                int64_t p = ports[o0 + s];
                if (!FITS32(p) || !FITS32(ca[j]) || !FITS32(ce[j])) {
                    PyErr_SetString(PyExc_OverflowError, "a port or class id past 32 bits");
                    goto done;
                }
                ka[1 + s] = data ? DATA : (int32_t)ca[j];
                ke[1 + s] = data ? DATA : (int32_t)ce[j];
                ka[1 + arity + s] = ke[1 + arity + s] = (int32_t)p;
            }
            uint64_t where, h;
            const int32_t *rec = find(ta, ka, len, &where, &h);
            int64_t a;
            if (rec) {
                a = rec[1];
            } else {
                int8_t kind = (int8_t)kinds_local[i];
                if (kind == CONST && arity) {
                    int param = 0, data = 0;
                    for (int64_t s = 0; s < arity; s++) {
                        int64_t c = ka[1 + s];
                        int8_t k = c >= 0 ? ta->kinds[c] : CONST;
                        param |= k == PARAM;
                        data |= k == DATA;
                    }
                    kind = param ? PARAM : data ? DATA : CONST;
                }
                if (kind == DATA) {
                    a = DATA;
                } else {
                    a = ta->nkinds;
                    if (add_kind(ta, kind) < 0) goto done;
                }
                if (insert(ta, ka, len, where, h, a) < 0) goto done;
            }
            ca[i] = a;
            rec = find(te, ke, len, &where, &h);
            int64_t x;
            if (rec) {
                x = rec[1];
            } else {
                if (a == DATA) {
                    x = DATA;
                } else {
                    x = te->nkinds;
                    if (add_kind(te, ta->kinds[a]) < 0) goto done;
                }
                if (insert(te, ke, len, where, h, x) < 0) goto done;
            }
            ce[i] = x;
        }
    }
    result = Py_None;
    Py_INCREF(result);
done:
    PyMem_Free(ka);
    PyMem_Free(ke);
    for (int i = 0; i < 10; i++) release(&b[i]);
    return result;
}

/* mark(offsets, flat, ctrl_offsets, ctrl_flat, starts, marks, dead) sets marks[j] (a bytearray of n)
 * for every node j that the nodes of ``starts`` depend on over data and control inputs, the starts
 * included, skipping nodes that are already marked or that ``dead`` (n bytes, or None) flags: the
 * walk of graphaudit/analysis/reachability.py (_mark). Graph inputs form chains far too deep for
 * whole-array passes. */
static PyObject *mark(PyObject *self, PyObject *args) {
    PyObject *objs[5], *marks_obj, *dead_obj;
    if (!PyArg_ParseTuple(args, "OOOOOOO", &objs[0], &objs[1], &objs[2], &objs[3], &objs[4], &marks_obj, &dead_obj))
        return NULL;
    static const char *names[5] = {"offsets", "flat", "ctrl_offsets", "ctrl_flat", "starts"};
    Buf b[5];
    Py_buffer mb = {0}, db = {0};
    int have_m = 0, have_d = 0;
    memset(b, 0, sizeof b);
    PyObject *result = NULL;
    int64_t *stack = NULL;
    for (int i = 0; i < 5; i++)
        if (get_buf(objs[i], &b[i], 0, names[i]) < 0) goto done;
    if (PyObject_GetBuffer(marks_obj, &mb, PyBUF_C_CONTIGUOUS | PyBUF_WRITABLE) < 0) goto done;
    have_m = 1;
    if (dead_obj != Py_None) {
        if (PyObject_GetBuffer(dead_obj, &db, PyBUF_C_CONTIGUOUS) < 0) goto done;
        have_d = 1;
    }
    {
        const int64_t *offsets[2] = {b[0].b.buf, b[2].b.buf}, *flat[2] = {b[1].b.buf, b[3].b.buf};
        const int64_t *starts = b[4].b.buf;
        uint8_t *marks = mb.buf;
        const uint8_t *dead = have_d ? db.buf : NULL;
        Py_ssize_t n = mb.len, nstarts = b[4].b.len / 8;
        if (b[0].b.len / 8 != n + 1 || b[2].b.len / 8 != n + 1 || (have_d && db.len != n) ||
            offsets[0][n] != b[1].b.len / 8 || offsets[1][n] != b[3].b.len / 8) {
            PyErr_SetString(PyExc_ValueError, "arrays of inconsistent lengths");
            goto done;
        }
        for (int e = 0; e < 2; e++)
            for (Py_ssize_t i = 0; i < n; i++)
                if (offsets[e][i] < 0 || offsets[e][i] > offsets[e][i + 1]) {
                    PyErr_SetString(PyExc_ValueError, "offsets must be ascending from 0");
                    goto done;
                }
        stack = PyMem_Malloc((size_t)(n + 1) * sizeof(int64_t));  /* each node is pushed once */
        if (!stack) { PyErr_NoMemory(); goto done; }
        Py_ssize_t top = 0;
        for (Py_ssize_t q = 0; q < nstarts; q++) {
            int64_t i = starts[q];
            if (i < 0 || i >= n) { PyErr_SetString(PyExc_IndexError, "node id out of range"); goto done; }
            if (!marks[i] && !(dead && dead[i])) { marks[i] = 1; stack[top++] = i; }
        }
        while (top) {
            int64_t i = stack[--top];
            for (int e = 0; e < 2; e++)
                for (int64_t k = offsets[e][i]; k < offsets[e][i + 1]; k++) {
                    int64_t j = flat[e][k];
                    if (j < 0 || j >= n) { PyErr_SetString(PyExc_IndexError, "input id out of range"); goto done; }
                    if (!marks[j] && !(dead && dead[j])) { marks[j] = 1; stack[top++] = j; }
                }
        }
    }
    result = Py_None;
    Py_INCREF(result);
done:
    PyMem_Free(stack);
    if (have_m) PyBuffer_Release(&mb);
    if (have_d) PyBuffer_Release(&db);
    for (int i = 0; i < 5; i++) release(&b[i]);
    return result;
}

/* Spans: dense ids of (code, bytes) keys whose bytes are one or two spans of a buffer joined, the
 * attr entries of a node on the wire (graphaudit/analysis/node_keys.py). Keys are copied into an
 * arena, so buffers need not outlive a call. */
typedef struct {
    PyObject_HEAD
    char *arena;          /* every key's bytes, back to back */
    Py_ssize_t arena_len, arena_cap;
    int64_t *meta;        /* entry -> (offset in arena, byte length, code, hash): 4 values */
    Py_ssize_t count, meta_cap;
    int64_t *slots;       /* hash slot -> entry + 1 (0: empty) */
    Py_ssize_t nslots;
} Spans;

static uint64_t mix64(uint64_t h) {
    h ^= h >> 33;
    h *= 0xFF51AFD7ED558CCDULL;
    h ^= h >> 33;
    h *= 0xC4CEB9FE1A85EC53ULL;
    return h ^ (h >> 33);
}

/* A hash of code and the concatenation a + b, equal for equal concatenations however split:
 * the bytes are read as little-endian 8-byte words of the joined string. */
static uint64_t hash_spans(int64_t code, const char *a, Py_ssize_t la, const char *b, Py_ssize_t lb) {
    uint64_t h = mix64((uint64_t)code ^ ((uint64_t)(la + lb) << 32));
    uint64_t word = 0;
    int fill = 0;
    const char *parts[2] = {a, b};
    Py_ssize_t lens[2] = {la, lb};
    for (int p = 0; p < 2; p++) {
        const unsigned char *s = (const unsigned char *)parts[p];
        Py_ssize_t i = 0, len = lens[p];
        if (fill == 0) {
            for (; i + 8 <= len; i += 8) {
                uint64_t w;
                memcpy(&w, s + i, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
                w = __builtin_bswap64(w);
#endif
                h = (h ^ w) * 0x9E3779B97F4A7C15ULL;
                h ^= h >> 32;
            }
        }
        for (; i < len; i++) {
            word |= (uint64_t)s[i] << (8 * fill);
            if (++fill == 8) {
                h = (h ^ word) * 0x9E3779B97F4A7C15ULL;
                h ^= h >> 32;
                word = 0;
                fill = 0;
            }
        }
    }
    if (fill) {
        h = (h ^ word) * 0x9E3779B97F4A7C15ULL;
        h ^= h >> 32;
    }
    return mix64(h);
}

static int spans_rehash(Spans *t, Py_ssize_t nslots) {
    int64_t *slots = PyMem_Calloc((size_t)nslots, sizeof(int64_t));
    if (!slots) { PyErr_NoMemory(); return -1; }
    for (Py_ssize_t e = 0; e < t->count; e++) {
        uint64_t s = (uint64_t)t->meta[4 * e + 3] & (uint64_t)(nslots - 1);
        while (slots[s]) s = (s + 1) & (uint64_t)(nslots - 1);
        slots[s] = e + 1;
    }
    PyMem_Free(t->slots);
    t->slots = slots;
    t->nslots = nslots;
    return 0;
}

static PyObject *Spans_new(PyTypeObject *type, PyObject *args, PyObject *kw) {
    Spans *t = (Spans *)type->tp_alloc(type, 0);
    if (!t) return NULL;
    if (spans_rehash(t, 1024) < 0) {
        Py_DECREF(t);
        return NULL;
    }
    return (PyObject *)t;
}

static void Spans_dealloc(Spans *t) {
    PyMem_Free(t->arena);
    PyMem_Free(t->meta);
    PyMem_Free(t->slots);
    Py_TYPE(t)->tp_free((PyObject *)t);
}

/* The id of (code, a + b), added when new. */
static int64_t spans_intern(Spans *t, int64_t code, const char *a, Py_ssize_t la, const char *b, Py_ssize_t lb) {
    uint64_t h = hash_spans(code, a, la, b, lb);
    uint64_t mask = (uint64_t)(t->nslots - 1);
    uint64_t s = h & mask;
    while (t->slots[s]) {
        Py_ssize_t e = (Py_ssize_t)t->slots[s] - 1;
        const int64_t *m = t->meta + 4 * e;
        if ((uint64_t)m[3] == h && m[2] == code && m[1] == la + lb) {
            const char *got = t->arena + m[0];
            if (memcmp(got, a, (size_t)la) == 0 && memcmp(got + la, b, (size_t)lb) == 0) return e;
        }
        s = (s + 1) & mask;
    }
    if (grow((void **)&t->arena, &t->arena_cap, t->arena_len + la + lb, 1) < 0) return -1;
    if (grow((void **)&t->meta, &t->meta_cap, 4 * (t->count + 1), sizeof(int64_t)) < 0) return -1;
    memcpy(t->arena + t->arena_len, a, (size_t)la);
    memcpy(t->arena + t->arena_len + la, b, (size_t)lb);
    int64_t *m = t->meta + 4 * t->count;
    m[0] = t->arena_len;
    m[1] = la + lb;
    m[2] = code;
    m[3] = (int64_t)h;
    t->arena_len += la + lb;
    int64_t e = t->count++;
    t->slots[s] = e + 1;
    if (t->count * 2 > t->nslots && spans_rehash(t, t->nslots * 2) < 0) return -1;
    return e;
}

/* add(buf, codes, starts1, ends1, starts2, ends2) -> int64 array: the id of each
 * (codes[k], buf[starts1[k]:ends1[k]] + buf[starts2[k]:ends2[k]]); ids are dense, from 0, in order of
 * first appearance. */
static PyObject *Spans_add(Spans *t, PyObject *args) {
    PyObject *bufobj, *objs[5];
    if (!PyArg_ParseTuple(args, "OOOOOO", &bufobj, &objs[0], &objs[1], &objs[2], &objs[3], &objs[4])) return NULL;
    static const char *names[5] = {"codes", "starts1", "ends1", "starts2", "ends2"};
    Py_buffer data;
    if (PyObject_GetBuffer(bufobj, &data, PyBUF_SIMPLE) < 0) return NULL;
    IntCol b[5];
    memset(b, 0, sizeof b);
    PyObject *out = NULL, *result = NULL;
    for (int i = 0; i < 5; i++)
        if (get_ints(objs[i], &b[i], names[i]) < 0) goto done;
    {
        Py_ssize_t count = b[0].len;
        for (int i = 1; i < 5; i++)
            if (b[i].len != count) { PyErr_SetString(PyExc_ValueError, "arrays of inconsistent lengths"); goto done; }
        out = PyBytes_FromStringAndSize(NULL, count * 8);
        if (!out) goto done;
        int64_t *ids = (int64_t *)PyBytes_AS_STRING(out);
        const char *base = data.buf;
        for (Py_ssize_t k = 0; k < count; k++) {
            int64_t code = int_at(&b[0], k), s1 = int_at(&b[1], k), e1 = int_at(&b[2], k);
            int64_t s2 = int_at(&b[3], k), e2 = int_at(&b[4], k);
            if (s1 < 0 || e1 < s1 || e1 > data.len || s2 < 0 || e2 < s2 || e2 > data.len) {
                PyErr_SetString(PyExc_IndexError, "span out of range");
                goto done;
            }
            int64_t id = spans_intern(t, code, base + s1, e1 - s1, base + s2, e2 - s2);
            if (id < 0) goto done;
            ids[k] = id;
        }
        result = out;
        out = NULL;
    }
done:
    Py_XDECREF(out);
    for (int i = 0; i < 5; i++) release_ints(&b[i]);
    PyBuffer_Release(&data);
    return result;
}

static Py_ssize_t Spans_len(Spans *t) { return t->count; }

static PyMethodDef Spans_methods[] = {
    {"add", (PyCFunction)Spans_add, METH_VARARGS,
     "Ids of (code, two joined byte spans) keys, as int64 bytes (see graphaudit/analysis/node_keys.py)."},
    {NULL}
};

static PySequenceMethods Spans_seq = {.sq_length = (lenfunc)Spans_len};

static PyTypeObject SpansType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "graphaudit.analysis._classes.Spans",
    .tp_basicsize = sizeof(Spans),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Dense ids of (code, bytes) keys read as spans of buffers.",
    .tp_new = Spans_new,
    .tp_dealloc = (destructor)Spans_dealloc,
    .tp_methods = Spans_methods,
    .tp_as_sequence = &Spans_seq,
};

static PyMethodDef Table_methods[] = {
    {"get", (PyCFunction)Table_get, METH_O, "The class id of a key tuple, or None."},
    {"kinds", (PyCFunction)Table_kinds, METH_NOARGS, "The kind of every class id, as bytes."},
    {NULL}
};

static PySequenceMethods Table_seq = {.sq_length = (lenfunc)Table_len};

static PyTypeObject TableType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "graphaudit.analysis._classes.Table",
    .tp_basicsize = sizeof(Table),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Class ids of key tuples of 32-bit ints, and the kind of each class id.",
    .tp_new = Table_new,
    .tp_dealloc = (destructor)Table_dealloc,
    .tp_methods = Table_methods,
    .tp_as_sequence = &Table_seq,
};

/* reach(n, starts, allowed, in_offsets, in_nodes, ctrl_offsets, ctrl_nodes) -> bytes: 1 for the
 * starts and every node reached from them over data and control edges (input -> consumer) through
 * nodes whose ``allowed`` byte is set (``allowed`` is bytes of n, or None for all). */
static PyObject *reach(PyObject *self, PyObject *args) {
    Py_ssize_t n;
    PyObject *allowed_obj, *objs[5];
    if (!PyArg_ParseTuple(args, "nOOOOOO", &n, &objs[0], &allowed_obj, &objs[1], &objs[2], &objs[3], &objs[4]))
        return NULL;
    static const char *names[5] = {"starts", "in_offsets", "in_nodes", "ctrl_offsets", "ctrl_nodes"};
    Buf b[5];
    memset(b, 0, sizeof b);
    Py_buffer allowed;
    int has_allowed = allowed_obj != Py_None;
    PyObject *out = NULL, *result = NULL;
    int64_t *first = NULL;
    int32_t *targets = NULL, *stack = NULL;
    if (n < 0 || n >= INT32_MAX) { PyErr_SetString(PyExc_ValueError, "node count out of range"); return NULL; }
    if (has_allowed) {
        if (PyObject_GetBuffer(allowed_obj, &allowed, PyBUF_SIMPLE) < 0) return NULL;
        if (allowed.len != n) {
            PyErr_SetString(PyExc_ValueError, "allowed must hold one byte per node");
            PyBuffer_Release(&allowed);
            return NULL;
        }
    }
    for (int i = 0; i < 5; i++)
        if (get_buf(objs[i], &b[i], 0, names[i]) < 0) goto done;
    {
        const int64_t *starts = b[0].b.buf;
        Py_ssize_t nstarts = b[0].b.len / 8;
        const int64_t *offs[2] = {b[1].b.buf, b[3].b.buf}, *srcs[2] = {b[2].b.buf, b[4].b.buf};
        Py_ssize_t nedges[2] = {b[2].b.len / 8, b[4].b.len / 8};
        for (int g = 0; g < 2; g++)
            if (b[2 * g + 1].b.len / 8 != n + 1 || offs[g][0] != 0 || offs[g][n] != nedges[g]) {
                PyErr_SetString(PyExc_ValueError, "arrays of inconsistent lengths");
                goto done;
            }
        /* Consumers of each node, by counting sort of the edges on their source. */
        first = PyMem_Calloc((size_t)n + 1, sizeof(int64_t));
        targets = PyMem_Malloc((size_t)(nedges[0] + nedges[1] + 1) * sizeof(int32_t));
        stack = PyMem_Malloc((size_t)(n + 1) * sizeof(int32_t));
        out = PyBytes_FromStringAndSize(NULL, n);
        if (!first || !targets || !stack || !out) { if (!PyErr_Occurred()) PyErr_NoMemory(); goto done; }
        for (int g = 0; g < 2; g++)
            for (Py_ssize_t e = 0; e < nedges[g]; e++) {
                int64_t j = srcs[g][e];
                if (j < 0 || j >= n) { PyErr_SetString(PyExc_IndexError, "input id out of range"); goto done; }
                first[j + 1]++;
            }
        for (Py_ssize_t i = 0; i < n; i++) first[i + 1] += first[i];
        for (int g = 0; g < 2; g++)
            for (Py_ssize_t i = 0; i < n; i++)
                for (int64_t e = offs[g][i]; e < offs[g][i + 1]; e++) {
                    if (e < 0 || e >= nedges[g]) { PyErr_SetString(PyExc_IndexError, "offset out of range"); goto done; }
                    targets[first[srcs[g][e]]++] = (int32_t)i;
                }
        for (Py_ssize_t i = n; i > 0; i--) first[i] = first[i - 1];
        first[0] = 0;
        char *marks = PyBytes_AS_STRING(out);
        const char *ok = has_allowed ? allowed.buf : NULL;
        memset(marks, 0, (size_t)n);
        Py_ssize_t top = 0;
        for (Py_ssize_t k = 0; k < nstarts; k++) {
            int64_t i = starts[k];
            if (i < 0 || i >= n) { PyErr_SetString(PyExc_IndexError, "start id out of range"); goto done; }
            if (!marks[i]) { marks[i] = 1; stack[top++] = (int32_t)i; }
        }
        while (top) {
            int32_t j = stack[--top];
            for (int64_t e = first[j]; e < first[j + 1]; e++) {
                int32_t c = targets[e];
                if (!marks[c] && (!ok || ok[c])) { marks[c] = 1; stack[top++] = c; }
            }
        }
        result = out;
        out = NULL;
    }
done:
    Py_XDECREF(out);
    PyMem_Free(first);
    PyMem_Free(targets);
    PyMem_Free(stack);
    for (int i = 0; i < 5; i++) release(&b[i]);
    if (has_allowed) PyBuffer_Release(&allowed);
    return result;
}

/* entry_runs(n, node, keep, key_prefix, key_len, start, end, s1, e1, s2, e2, loose): for each node,
 * its kept attr entries (``keep``, a byte per entry) as runs of entries contiguous on the wire:
 * the first run's bytes [s1, e1), the second's [s2, e2) (zeros when absent), and ``loose`` set when
 * it has more than two runs or its kept keys are out of order by (key_prefix, key_len). Entries
 * come grouped by node in node order (graphaudit/formats/wire.py). */
static PyObject *entry_runs(PyObject *self, PyObject *args) {
    Py_ssize_t n;
    PyObject *in[6], *outs[5];
    if (!PyArg_ParseTuple(args, "nOOOOOOOOOOO", &n, &in[0], &in[1], &in[2], &in[3], &in[4], &in[5], &outs[0],
                          &outs[1], &outs[2], &outs[3], &outs[4]))
        return NULL;
    static const char *in_names[6] = {"node", "keep", "key_prefix", "key_len", "start", "end"};
    static const char *out_names[4] = {"s1", "e1", "s2", "e2"};
    IntCol c[6];
    Buf o[4];
    Py_buffer keep, loose;
    int have_keep = 0, have_loose = 0;
    memset(c, 0, sizeof c);
    memset(o, 0, sizeof o);
    PyObject *result = NULL;
    for (int i = 0; i < 6; i++) {
        if (i == 1) {
            if (PyObject_GetBuffer(in[1], &keep, PyBUF_C_CONTIGUOUS) < 0) goto done;
            have_keep = 1;
        } else if (get_ints(in[i], &c[i], in_names[i]) < 0) {
            goto done;
        }
    }
    for (int i = 0; i < 4; i++)
        if (get_buf(outs[i], &o[i], 1, out_names[i]) < 0) goto done;
    if (PyObject_GetBuffer(outs[4], &loose, PyBUF_C_CONTIGUOUS | PyBUF_WRITABLE) < 0) goto done;
    have_loose = 1;
    {
        Py_ssize_t m = c[0].len;
        if (keep.len != m || c[2].len != m || c[3].len != m || c[4].len != m || c[5].len != m || loose.len != n) {
            PyErr_SetString(PyExc_ValueError, "arrays of inconsistent lengths");
            goto done;
        }
        for (int i = 0; i < 4; i++)
            if (o[i].b.len / 8 != n) { PyErr_SetString(PyExc_ValueError, "arrays of inconsistent lengths"); goto done; }
        int64_t *s1 = o[0].b.buf, *e1 = o[1].b.buf, *s2 = o[2].b.buf, *e2 = o[3].b.buf;
        uint8_t *lo = loose.buf;
        const uint8_t *kp = keep.buf;
        memset(s1, 0, (size_t)n * 8);
        memset(e1, 0, (size_t)n * 8);
        memset(s2, 0, (size_t)n * 8);
        memset(e2, 0, (size_t)n * 8);
        memset(lo, 0, (size_t)n);
        int64_t last_node = -1, last_end = 0, runs = 0, last_len = 0;
        uint64_t last_prefix = 0;
        for (Py_ssize_t k = 0; k < m; k++) {
            if (!kp[k]) continue;
            int64_t i = int_at(&c[0], k), st = int_at(&c[4], k), en = int_at(&c[5], k), len = int_at(&c[3], k);
            uint64_t prefix = uint_at(&c[2], k);
            if (i < 0 || i >= n || i < last_node) {
                PyErr_SetString(PyExc_ValueError, "attr entries not grouped by node in node order");
                goto done;
            }
            if (i != last_node) {
                runs = 1;
                s1[i] = st;
                e1[i] = en;
            } else {
                if (prefix < last_prefix || (prefix == last_prefix && len < last_len)) lo[i] = 1;
                if (st != last_end) {
                    runs++;
                    if (runs == 2) s2[i] = st;
                    else lo[i] = 1;
                }
                if (runs == 1) e1[i] = en;
                else if (runs == 2) e2[i] = en;
            }
            last_node = i;
            last_end = en;
            last_prefix = prefix;
            last_len = len;
        }
    }
    result = Py_None;
    Py_INCREF(result);
done:
    for (int i = 0; i < 6; i++) release_ints(&c[i]);
    for (int i = 0; i < 4; i++) release(&o[i]);
    if (have_keep) PyBuffer_Release(&keep);
    if (have_loose) PyBuffer_Release(&loose);
    return result;
}

/* ---- Strings: the `/` parts and the substring tests of graphaudit/bulk.py, one string at a time ---- */

/* A str's code units: kind (1, 2 or 4 bytes each), data and length. */
typedef struct { int kind; const char *data; Py_ssize_t len; } Text;

static int text_of(PyObject *o, Text *t) {
    if (!PyUnicode_CheckExact(o) || !PyUnicode_IS_COMPACT(o)) {
        PyErr_SetString(PyExc_TypeError, "expected exact str objects");
        return -1;
    }
#if PY_VERSION_HEX < 0x030C0000
    if (!PyUnicode_IS_READY(o)) {
        PyErr_SetString(PyExc_TypeError, "expected ready str objects");
        return -1;
    }
#endif
    t->kind = (int)PyUnicode_KIND(o);
    t->data = PyUnicode_DATA(o);
    t->len = PyUnicode_GET_LENGTH(o);
    return 0;
}

/* Equal code points: a of kind ka and b of kind kb, len each (kinds may differ: a str need not be
 * of the smallest kind that holds a part of it). */
static int same_text(int ka, const char *a, int kb, const char *b, Py_ssize_t len) {
    if (ka == kb) return memcmp(a, b, (size_t)len * (size_t)ka) == 0;
    for (Py_ssize_t i = 0; i < len; i++)
        if (PyUnicode_READ(ka, a, i) != PyUnicode_READ(kb, b, i)) return 0;
    return 1;
}

/* A hash of the code points (the same whatever the kind). */
static uint64_t hash_text(int kind, const char *d, Py_ssize_t len) {
    uint64_t h = 0xCBF29CE484222325ULL ^ (uint64_t)len;
    if (kind == 1) {
        for (Py_ssize_t i = 0; i < len; i++) h = (h ^ (uint8_t)d[i]) * 0x100000001B3ULL;
    } else {
        for (Py_ssize_t i = 0; i < len; i++) h = (h ^ PyUnicode_READ(kind, d, i)) * 0x100000001B3ULL;
    }
    return h ^ (h >> 31);
}

/* Distinct parts: open addressing over the str objects met so far (each holds one reference). */
typedef struct { PyObject **objs; uint64_t *hashes; Py_ssize_t cap, count; } PartSet;

static int partset_grow(PartSet *p, Py_ssize_t cap) {
    PyObject **objs = PyMem_Calloc((size_t)cap, sizeof(PyObject *));
    uint64_t *hashes = PyMem_Calloc((size_t)cap, sizeof(uint64_t));
    if (!objs || !hashes) {
        PyMem_Free(objs);
        PyMem_Free(hashes);
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < p->cap; i++) {
        if (!p->objs[i]) continue;
        Py_ssize_t s = (Py_ssize_t)(p->hashes[i] & (uint64_t)(cap - 1));
        while (objs[s]) s = (s + 1) & (cap - 1);
        objs[s] = p->objs[i];
        hashes[s] = p->hashes[i];
    }
    PyMem_Free(p->objs);
    PyMem_Free(p->hashes);
    p->objs = objs;
    p->hashes = hashes;
    p->cap = cap;
    return 0;
}

static void partset_free(PartSet *p) {
    for (Py_ssize_t i = 0; i < p->cap; i++) Py_XDECREF(p->objs[i]);
    PyMem_Free(p->objs);
    PyMem_Free(p->hashes);
}

/* parts(strings, last): the first (last false) or last (last true) `/` part of each string, the
 * whole string when it has no `/`, as a list in which equal parts are one object:
 * ``s.partition("/")[0]`` / ``s.rpartition("/")[2]`` (graphaudit/bulk.py first_parts/last_parts).
 * A part equal to the previous string's is that object again (sorted names repeat their parts in
 * runs); the others go through a table of the distinct parts. */
static PyObject *name_parts(PyObject *self, PyObject *args) {
    PyObject *seq;
    int last;
    if (!PyArg_ParseTuple(args, "Op", &seq, &last)) return NULL;
    PyObject *fast = PySequence_Fast(seq, "strings must be a sequence");
    if (!fast) return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(fast);
    PyObject **items = PySequence_Fast_ITEMS(fast);
    PyObject *out = PyList_New(n);
    PartSet set = {NULL, NULL, 0, 0};
    if (!out || partset_grow(&set, 1024) < 0) goto fail;
    PyObject *prev = NULL;
    Text pt = {1, NULL, -1};
    for (Py_ssize_t i = 0; i < n; i++) {
        Text t;
        if (text_of(items[i], &t) < 0) goto fail;
        Py_ssize_t a = 0, b = t.len;
        if (t.kind == 1) {
            if (last) {
                for (Py_ssize_t j = t.len - 1; j >= 0; j--)
                    if (t.data[j] == '/') { a = j + 1; break; }
            } else {
                const char *p = memchr(t.data, '/', (size_t)t.len);
                if (p) b = p - t.data;
            }
        } else if (last) {
            for (Py_ssize_t j = t.len - 1; j >= 0; j--)
                if (PyUnicode_READ(t.kind, t.data, j) == '/') { a = j + 1; break; }
        } else {
            for (Py_ssize_t j = 0; j < t.len; j++)
                if (PyUnicode_READ(t.kind, t.data, j) == '/') { b = j; break; }
        }
        Py_ssize_t len = b - a;
        const char *d = t.data + a * t.kind;
        PyObject *got;
        if (prev && pt.len == len && same_text(t.kind, d, pt.kind, pt.data, len)) {
            got = prev;
        } else {
            uint64_t h = hash_text(t.kind, d, len);
            Py_ssize_t s = (Py_ssize_t)(h & (uint64_t)(set.cap - 1));
            got = NULL;
            for (; set.objs[s]; s = (s + 1) & (set.cap - 1)) {
                if (set.hashes[s] != h) continue;
                Text o;
                (void)text_of(set.objs[s], &o);  /* made here: exact compact strs */
                if (o.len == len && same_text(t.kind, d, o.kind, o.data, len)) { got = set.objs[s]; break; }
            }
            if (!got) {
                if (a == 0 && b == t.len) {
                    got = items[i];
                    Py_INCREF(got);
                } else if (!(got = PyUnicode_Substring(items[i], a, b))) {
                    goto fail;
                }
                set.objs[s] = got;
                set.hashes[s] = h;
                if (++set.count * 2 > set.cap && partset_grow(&set, set.cap * 2) < 0) goto fail;
            }
            prev = got;
            (void)text_of(got, &pt);
        }
        Py_INCREF(got);
        PyList_SET_ITEM(out, i, got);
    }
    partset_free(&set);
    Py_DECREF(fast);
    return out;
fail:
    partset_free(&set);
    Py_DECREF(fast);
    Py_XDECREF(out);
    return NULL;
}

/* strings_with(strings, needle, mode): the indices of the strings that hold ``needle`` (mode 0), start
 * with it (1) or end with it (2), in order, as a list: the tests of graphaudit/bulk.py (Joined)
 * made string by string, with no joined text. Any code points, newlines included. */
static PyObject *strings_with(PyObject *self, PyObject *args) {
    PyObject *seq, *needle_obj;
    int mode;
    if (!PyArg_ParseTuple(args, "OUi", &seq, &needle_obj, &mode)) return NULL;
    if (mode < 0 || mode > 2) { PyErr_SetString(PyExc_ValueError, "mode is 0, 1 or 2"); return NULL; }
    Text nt;
    if (text_of(needle_obj, &nt) < 0) return NULL;
    Py_ssize_t m = nt.len;
    Py_UCS4 top = 0;
    for (Py_ssize_t i = 0; i < m; i++) {
        Py_UCS4 c = PyUnicode_READ(nt.kind, nt.data, i);
        if (c > top) top = c;
    }
    int least = top < 256 ? 1 : top < 65536 ? 2 : 4;  /* a string of a smaller kind cannot hold it */
    char *nb[5] = {NULL, NULL, NULL, NULL, NULL};       /* the needle in kinds 1, 2 and 4 */
    Py_ssize_t *hits = NULL, nhits = 0, cap = 0;
    PyObject *out = NULL, *fast = NULL;
    for (int k = least; k <= 4; k *= 2) {
        if (!(nb[k] = PyMem_Malloc((size_t)(m ? m : 1) * (size_t)k))) { PyErr_NoMemory(); goto done; }
        for (Py_ssize_t i = 0; i < m; i++) PyUnicode_WRITE(k, nb[k], i, PyUnicode_READ(nt.kind, nt.data, i));
    }
    if (!(fast = PySequence_Fast(seq, "strings must be a sequence"))) goto done;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(fast);
    PyObject **items = PySequence_Fast_ITEMS(fast);
    /* Inside strings of kind 1, the needle is looked for by its rarest byte (memchr), counted over
     * a sample of the strings: the first byte of a needle like `/kernel/` is in every name. */
    Py_ssize_t rare = 0;
    if (mode == 0 && m > 1 && nb[1]) {
        Py_ssize_t counts[256] = {0}, step = n > 4096 ? n / 4096 : 1;
        for (Py_ssize_t k = 0; k < n; k += step) {
            Text t;
            if (text_of(items[k], &t) < 0) goto done;
            if (t.kind == 1)
                for (Py_ssize_t i = 0; i < t.len; i++) counts[(uint8_t)t.data[i]]++;
        }
        for (Py_ssize_t i = 1; i < m; i++)
            if (counts[(uint8_t)nb[1][i]] < counts[(uint8_t)nb[1][rare]]) rare = i;
    }
    for (Py_ssize_t k = 0; k < n; k++) {
        Text t;
        if (text_of(items[k], &t) < 0) goto done;
        if (t.len < m || t.kind < least) continue;
        const char *nd = nb[t.kind];
        size_t bytes = (size_t)m * (size_t)t.kind;
        int hit = 0;
        if (mode == 1) {
            hit = memcmp(t.data, nd, bytes) == 0;
        } else if (mode == 2) {
            hit = memcmp(t.data + (t.len - m) * t.kind, nd, bytes) == 0;
        } else if (m == 0) {
            hit = 1;
        } else if (t.kind == 1 && m == 1) {
            hit = memchr(t.data, nd[0], (size_t)t.len) != NULL;
        } else if (t.kind == 1) {
            const char *p = t.data + rare, *end = t.data + t.len - (m - 1 - rare), c = nd[rare];
            for (const char *q; p < end && (q = memchr(p, c, (size_t)(end - p))); p = q + 1)
                if (memcmp(q - rare, nd, bytes) == 0) { hit = 1; break; }
        } else {
            for (Py_ssize_t i = 0; i + m <= t.len; i++)
                if (memcmp(t.data + i * t.kind, nd, bytes) == 0) { hit = 1; break; }
        }
        if (!hit) continue;
        if (nhits == cap) {
            Py_ssize_t c = cap ? cap * 2 : 1024;
            Py_ssize_t *p = PyMem_Realloc(hits, (size_t)c * sizeof(Py_ssize_t));
            if (!p) { PyErr_NoMemory(); goto done; }
            hits = p;
            cap = c;
        }
        hits[nhits++] = k;
    }
    if (!(out = PyList_New(nhits))) goto done;
    for (Py_ssize_t i = 0; i < nhits; i++) {
        PyObject *v = PyLong_FromSsize_t(hits[i]);
        if (!v) { Py_CLEAR(out); goto done; }
        PyList_SET_ITEM(out, i, v);
    }
done:
    for (int k = 1; k <= 4; k *= 2) PyMem_Free(nb[k]);
    PyMem_Free(hits);
    Py_XDECREF(fast);
    return out;
}

static PyMethodDef methods[] = {
    {"run", run, METH_VARARGS, "Class the nodes of an order (see graphaudit/analysis/structure.py)."},
    {"mark", mark, METH_VARARGS, "Mark what the start nodes depend on (see graphaudit/analysis/reachability.py)."},
    {"entry_runs", entry_runs, METH_VARARGS, "Each node's kept attr entries as runs (see graphaudit/analysis/node_keys.py)."},
    {"reach", reach, METH_VARARGS, "Nodes reached from starts over data and control edges, downstream, as bytes."},
    {"parts", name_parts, METH_VARARGS, "The first or last `/` part of each string, equal parts one object (see graphaudit/bulk.py)."},
    {"strings_with", strings_with, METH_VARARGS, "Indices of the strings holding, starting or ending with a needle (see graphaudit/bulk.py)."},
    {NULL}
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "graphaudit.analysis._classes",
                                    "Structural class ids of graph nodes, in C.", -1, methods};

PyMODINIT_FUNC PyInit__classes(void) {
    if (PyType_Ready(&TableType) < 0 || PyType_Ready(&SpansType) < 0) return NULL;
    PyObject *m = PyModule_Create(&module);
    if (!m) return NULL;
    Py_INCREF(&TableType);
    if (PyModule_AddObject(m, "Table", (PyObject *)&TableType) < 0) {
        Py_DECREF(&TableType);
        Py_DECREF(m);
        return NULL;
    }
    Py_INCREF(&SpansType);
    if (PyModule_AddObject(m, "Spans", (PyObject *)&SpansType) < 0) {
        Py_DECREF(&SpansType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
