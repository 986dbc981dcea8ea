/* One data block of a checkpoint index (graphaudit/formats/table.py's _parse_block) decoded in C,
 * each value read as a BundleEntryProto into columns (graphaudit/formats/checkpoint.py). Only the
 * usual layout is decoded here: a block the Python reader would reject gives None, and an entry
 * it would not read the usual way (the header, slices, unknown fields, negative numbers...) is
 * flagged, so that checkpoint.py reads it, and reports any problem, exactly as without C.
 * Also CRC-32C (crc32c.py's numpy lanes are the fallback): every index block is checksummed. */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

enum { C_DTYPE, C_SHARD, C_OFFSET, C_SIZE, C_CRC, C_COUNT, C_SPECIAL, NCOLS };

/* Elements past this are left to Python's big integers (no real tensor comes near it). */
#define MAX_COUNT ((int64_t)1 << 56)

/* A base-128 varint of at most 10 bytes; -1 when it runs past `end` or is longer. */
static int varint64(const uint8_t *buf, Py_ssize_t *pos, Py_ssize_t end, uint64_t *out) {
    uint64_t value = 0;
    for (int shift = 0; shift < 70 && *pos < end; shift += 7) {
        uint8_t byte = buf[(*pos)++];
        if (shift == 63 && byte > 1) return -1;
        value |= (uint64_t)(byte & 0x7F) << shift;
        if (!(byte & 0x80)) { *out = value; return 0; }
    }
    return -1;
}

/* table.py's _varint(..., 32): at most 5 bytes and 32 bits. */
static int varint32(const uint8_t *buf, Py_ssize_t *pos, Py_ssize_t end, uint32_t *out) {
    uint64_t value = 0;
    for (int shift = 0; shift < 32 && *pos < end; shift += 7) {
        uint8_t byte = buf[(*pos)++];
        value |= (uint64_t)(byte & 0x7F) << shift;
        if (!(byte & 0x80)) {
            if (value >> 32) return -1;
            *out = (uint32_t)value;
            return 0;
        }
    }
    return -1;
}

/* A TensorShapeProto of known rank with only non-negative sizes, as a tuple; 1 = not usual. */
static int read_shape(const uint8_t *p, Py_ssize_t end, PyObject *shapes, PyObject **shape, int64_t *count) {
    int64_t dims[64];
    int rank = 0;
    int64_t n = 1;
    Py_ssize_t pos = 0;
    while (pos < end) {
        uint64_t tag, len, size;
        if (varint64(p, &pos, end, &tag) || tag != ((2 << 3) | 2)) return 1;
        if (varint64(p, &pos, end, &len) || len > (uint64_t)(end - pos)) return 1;
        Py_ssize_t dim_end = pos + (Py_ssize_t)len;
        int seen = 0;
        size = 0;
        while (pos < dim_end) {
            uint64_t dim_tag;
            if (varint64(p, &pos, dim_end, &dim_tag) || dim_tag != (1 << 3) || seen) return 1;
            if (varint64(p, &pos, dim_end, &size) || size >> 62) return 1;
            seen = 1;
        }
        if (rank == 64) return 1;
        dims[rank++] = (int64_t)size;
        if (size && n > MAX_COUNT / (int64_t)size) return 1;
        n *= (int64_t)size;
    }
    PyObject *tuple = PyTuple_New(rank);
    if (!tuple) return -1;
    for (int k = 0; k < rank; k++) {
        PyObject *v = PyLong_FromLongLong(dims[k]);
        if (!v) { Py_DECREF(tuple); return -1; }
        PyTuple_SET_ITEM(tuple, k, v);
    }
    /* One tuple per distinct shape: most tensors of a checkpoint share a handful. */
    PyObject *same = PyDict_SetDefault(shapes, tuple, tuple);
    Py_DECREF(tuple);
    if (!same) return -1;
    Py_INCREF(same);
    *shape = same;
    *count = n;
    return 0;
}

/* Shapes already read, by the bytes of their TensorShapeProto: most tensors of a checkpoint share a
 * handful, so an entry's shape costs a lookup, not a tuple. Equal shapes share one tuple. */
#define SHAPE_CACHE_MAX_BYTES 256
typedef struct {
    uint64_t hash;
    Py_ssize_t len;
    uint8_t *bytes;
    PyObject *tuple;
    int64_t count;
} shape_slot;

typedef struct {
    shape_slot *slots;
    size_t mask, used;
    PyObject *pool; /* tuple -> tuple, so that equal shapes written two ways still share one */
} shape_cache;

static uint64_t fnv1a(const uint8_t *p, Py_ssize_t n) {
    uint64_t h = 1469598103934665603ULL;
    for (Py_ssize_t i = 0; i < n; i++) h = (h ^ p[i]) * 1099511628211ULL;
    return h;
}

static void shape_cache_free(shape_cache *c) {
    if (c->slots)
        for (size_t i = 0; i <= c->mask; i++)
            if (c->slots[i].bytes) {
                PyMem_Free(c->slots[i].bytes);
                Py_DECREF(c->slots[i].tuple);
            }
    PyMem_Free(c->slots);
    Py_XDECREF(c->pool);
}

static int shape_cache_grow(shape_cache *c) {
    size_t size = c->slots ? 2 * (c->mask + 1) : 64;
    shape_slot *slots = PyMem_Calloc(size, sizeof(shape_slot));
    if (!slots) { PyErr_NoMemory(); return -1; }
    if (c->slots) {
        for (size_t i = 0; i <= c->mask; i++) {
            if (!c->slots[i].bytes) continue;
            size_t k = (size_t)c->slots[i].hash & (size - 1);
            while (slots[k].bytes) k = (k + 1) & (size - 1);
            slots[k] = c->slots[i];
        }
        PyMem_Free(c->slots);
    }
    c->slots = slots;
    c->mask = size - 1;
    return 0;
}

/* The usual shape at p[0:end] as a shared tuple and its element count; 1 = not usual, -1 = error. */
static int cached_shape(shape_cache *c, const uint8_t *p, Py_ssize_t end, PyObject **shape, int64_t *count) {
    uint64_t hash = 0;
    size_t k = 0;
    if (end <= SHAPE_CACHE_MAX_BYTES) {
        hash = fnv1a(p, end);
        for (k = (size_t)hash & c->mask; c->slots[k].bytes; k = (k + 1) & c->mask) {
            shape_slot *s = &c->slots[k];
            if (s->hash == hash && s->len == end && !memcmp(s->bytes, p, (size_t)end)) {
                Py_INCREF(s->tuple);
                *shape = s->tuple;
                *count = s->count;
                return 0;
            }
        }
    }
    int r = read_shape(p, end, c->pool, shape, count);
    if (r || end > SHAPE_CACHE_MAX_BYTES) return r;
    uint8_t *copy = PyMem_Malloc(end ? (size_t)end : 1);
    if (!copy) { Py_CLEAR(*shape); PyErr_NoMemory(); return -1; }
    if (end) memcpy(copy, p, (size_t)end);
    shape_slot *s = &c->slots[k];
    s->hash = hash;
    s->len = end;
    s->bytes = copy;
    s->tuple = *shape;
    Py_INCREF(*shape);
    s->count = *count;
    if (++c->used * 2 > c->mask + 1 && shape_cache_grow(c) < 0) { Py_CLEAR(*shape); return -1; }
    return 0;
}

/* The fields of a BundleEntryProto written the usual way; 1 = not usual, -1 = Python error. */
static int read_entry(const uint8_t *p, Py_ssize_t end, shape_cache *shapes, int64_t *row, PyObject **shape) {
    unsigned seen = 0;
    Py_ssize_t pos = 0;
    *shape = NULL;
    row[C_COUNT] = 1;
    while (pos < end) {
        uint64_t tag, v;
        if (varint64(p, &pos, end, &tag)) return 1;
        unsigned field = (unsigned)(tag >> 3), kind = (unsigned)(tag & 7);
        if (field < 1 || field > 6 || (seen & (1u << field))) return 1;
        seen |= 1u << field;
        if (field == 6) {
            if (kind != 5 || end - pos < 4) return 1;
            row[C_CRC] = (int64_t)((uint32_t)p[pos] | (uint32_t)p[pos + 1] << 8 | (uint32_t)p[pos + 2] << 16
                                   | (uint32_t)p[pos + 3] << 24);
            pos += 4;
        } else if (field == 2) {
            uint64_t len;
            if (kind != 2 || varint64(p, &pos, end, &len) || len > (uint64_t)(end - pos)) return 1;
            int r = cached_shape(shapes, p + pos, (Py_ssize_t)len, shape, &row[C_COUNT]);
            if (r) return r;
            pos += (Py_ssize_t)len;
        } else {
            if (kind != 0 || varint64(p, &pos, end, &v)) return 1;
            if ((field == 1 || field == 3) ? v >> 31 : v >> 63) return 1;
            row[field == 1 ? C_DTYPE : field == 3 ? C_SHARD : field == 4 ? C_OFFSET : C_SIZE] = (int64_t)v;
        }
    }
    if (!*shape) {
        PyObject *scalar = PyTuple_New(0);
        if (!scalar) return -1;
        *shape = scalar;
    }
    return 0;
}

static int cmp_keys(const uint8_t *a, Py_ssize_t na, const uint8_t *b, Py_ssize_t nb) {
    int c = memcmp(a, b, (size_t)(na < nb ? na : nb));
    return c ? c : (na > nb) - (na < nb);
}

static int cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* What decode_index keeps from block to block. */
typedef struct {
    PyObject *names, *dtypes, *shapes;       /* the tensors' rows (keys from "\x01" on) */
    PyObject *p_names, *p_dtypes, *p_shapes; /* the rows before them: the header and slices' parts */
    PyObject *specials;                      /* (row, value) of the entries left to Python */
    PyObject *numbers;                       /* bytearray: shard id, offset, size, crc32c per row */
    Py_ssize_t n, cap;                       /* rows so far, rows `numbers` has room for */
    PyObject *dtype_names;                   /* 256 names by DataType number */
    const int8_t *itemsize;                  /* 256 bytes per element; 0 for strings, -1 unknown */
    shape_cache shapes_seen;
    uint8_t *key;                            /* the last key read, in any block */
    Py_ssize_t key_len, key_cap;
    uint32_t *fresh;
    Py_ssize_t fresh_cap;
    int64_t max_shard;
} index_state;

static int append3(PyObject *a, PyObject *x, PyObject *b, PyObject *y, PyObject *c, PyObject *z) {
    return PyList_Append(a, x) < 0 || PyList_Append(b, y) < 0 || PyList_Append(c, z) < 0 ? -1 : 0;
}

/* One data block into the state; 0 = read, 1 = not laid out as usual, -1 = Python error. */
static int decode_one(index_state *st, const uint8_t *b, Py_ssize_t size) {
    if (size < 4) return 1;
    uint32_t num_restarts = (uint32_t)b[size - 4] | (uint32_t)b[size - 3] << 8 | (uint32_t)b[size - 2] << 16
                            | (uint32_t)b[size - 1] << 24;
    int64_t restarts_at = (int64_t)size - 4 - 4 * (int64_t)num_restarts;
    if (num_restarts == 0 || restarts_at < 0) return 1;
    Py_ssize_t need = (Py_ssize_t)(restarts_at / 3 + 1);
    if (need > st->fresh_cap) {
        uint32_t *f = PyMem_Realloc(st->fresh, sizeof(uint32_t) * (size_t)need);
        if (!f) { PyErr_NoMemory(); return -1; }
        st->fresh = f;
        st->fresh_cap = need;
    }
    uint32_t *fresh = st->fresh;
    Py_ssize_t n_fresh = 0, block_rows = 0, pos = 0;
    while (pos < restarts_at) {
        Py_ssize_t entry_at = pos;
        uint32_t shared, non_shared, value_length;
        if (varint32(b, &pos, restarts_at, &shared) || varint32(b, &pos, restarts_at, &non_shared)
            || varint32(b, &pos, restarts_at, &value_length))
            return 1;
        /* A block's first key shares nothing: the key before it is in another block. */
        if (shared > (block_rows ? st->key_len : 0)) return 1;
        int64_t value_at = (int64_t)pos + non_shared, end = value_at + value_length;
        if (end > restarts_at) return 1;
        if (shared == 0) fresh[n_fresh++] = (uint32_t)entry_at;
        Py_ssize_t new_len = (Py_ssize_t)shared + (Py_ssize_t)non_shared;
        if (new_len > st->key_cap) {
            Py_ssize_t grown = new_len > 2 * st->key_cap ? new_len : 2 * st->key_cap;
            uint8_t *k = PyMem_Realloc(st->key, (size_t)grown + 1);
            if (!k) { PyErr_NoMemory(); return -1; }
            st->key = k;
            st->key_cap = grown;
        }
        /* Keys rise: the key before still fills `key` and shares its first `shared` bytes with
         * this one (none at a block's start). */
        if (st->n && cmp_keys(b + pos, non_shared, st->key + shared, st->key_len - shared) <= 0) return 1;
        if (non_shared) memcpy(st->key + shared, b + pos, non_shared);
        st->key_len = new_len;
        /* The header (empty key) and the parts of sliced tensors ("\x00...") sort before every tensor. */
        int private = new_len == 0 || st->key[0] == 0;
        if (private && PyList_GET_SIZE(st->names)) return 1;
        int64_t row[NCOLS];
        memset(row, 0, sizeof row);
        PyObject *shape = NULL, *dtype;
        int r = new_len ? read_entry(b + value_at, (Py_ssize_t)value_length, &st->shapes_seen, row, &shape) : 1;
        if (r < 0) { Py_XDECREF(shape); return -1; }
        if (r) {
            Py_CLEAR(shape);
            PyObject *item = Py_BuildValue("ny#", st->n, (const char *)(b + value_at), (Py_ssize_t)value_length);
            if (!item) return -1;
            int appended = PyList_Append(st->specials, item);
            Py_DECREF(item);
            if (appended < 0) return -1;
            memset(row, 0, sizeof row);
            shape = Py_None;
            Py_INCREF(shape);
            dtype = Py_None;
        } else {
            if (row[C_DTYPE] > 255) { Py_DECREF(shape); return 1; }
            if (!private) {
                /* checkpoint.py's _check_size: strings need a length byte per element and a checksum,
                 * numbers exactly their elements' bytes; dtypes graphaudit cannot read are refused later. */
                int64_t each = st->itemsize[row[C_DTYPE]];
                if (each == 0 ? row[C_SIZE] < row[C_COUNT] + 4 : each > 0 && row[C_SIZE] != row[C_COUNT] * each) {
                    Py_DECREF(shape);
                    return 1;
                }
            }
            if (row[C_SHARD] > st->max_shard) st->max_shard = row[C_SHARD];
            dtype = PyTuple_GET_ITEM(st->dtype_names, row[C_DTYPE]);
        }
        /* A part's key is binary (OrderedCode), read as checkpoint.py reads it; a tensor's name must be
         * UTF-8, else names would not sort as their bytes do. */
        PyObject *name = PyUnicode_DecodeUTF8((const char *)st->key, new_len, private ? "surrogateescape" : NULL);
        if (!name) {
            Py_DECREF(shape);
            if (private || !PyErr_ExceptionMatches(PyExc_UnicodeDecodeError)) return -1;
            PyErr_Clear();
            return 1;
        }
        int appended = private ? append3(st->p_names, name, st->p_dtypes, dtype, st->p_shapes, shape)
                               : append3(st->names, name, st->dtypes, dtype, st->shapes, shape);
        Py_DECREF(name);
        Py_DECREF(shape);
        if (appended < 0) return -1;
        if (st->n == st->cap) {
            Py_ssize_t grown = st->cap ? 2 * st->cap : 4096;
            if (PyByteArray_Resize(st->numbers, grown * 4 * (Py_ssize_t)sizeof(int64_t)) < 0) return -1;
            st->cap = grown;
        }
        int64_t *numbers = (int64_t *)PyByteArray_AS_STRING(st->numbers) + 4 * st->n;
        numbers[0] = row[C_SHARD];
        numbers[1] = row[C_OFFSET];
        numbers[2] = row[C_SIZE];
        numbers[3] = row[C_CRC];
        st->n++;
        block_rows++;
        pos = (Py_ssize_t)end;
    }
    /* Every restart offset must point at an entry that shares no prefix (a sorted search). */
    for (uint32_t k = 0; k < num_restarts; k++) {
        const uint8_t *q = b + restarts_at + 4 * (int64_t)k;
        uint32_t off = (uint32_t)q[0] | (uint32_t)q[1] << 8 | (uint32_t)q[2] << 16 | (uint32_t)q[3] << 24;
        if (restarts_at == 0 && off == 0) continue;
        if (!n_fresh || !bsearch(&off, fresh, (size_t)n_fresh, sizeof(uint32_t), cmp_u32)) return 1;
    }
    return 0;
}

/* decode_index(blocks, dtype_names, itemsizes)
 *   -> (names, dtypes, shapes, p_names, p_dtypes, p_shapes, numbers, specials, max_shard) | None
 * Every data block of an index, in order, into columns; None when one is not laid out as usual. */
static PyObject *decode_index(PyObject *self, PyObject *args) {
    PyObject *blocks, *dtype_names;
    Py_buffer sizes;
    if (!PyArg_ParseTuple(args, "OO!y*", &blocks, &PyTuple_Type, &dtype_names, &sizes)) return NULL;
    if (PyTuple_GET_SIZE(dtype_names) != 256 || sizes.len != 256) {
        PyBuffer_Release(&sizes);
        PyErr_SetString(PyExc_ValueError, "decode_index needs 256 dtype names and 256 item sizes");
        return NULL;
    }
    index_state st;
    memset(&st, 0, sizeof st);
    st.dtype_names = dtype_names;
    st.itemsize = (const int8_t *)sizes.buf;
    st.max_shard = -1;
    PyObject *result = NULL, *it = NULL;
    st.key = PyMem_Malloc(64);
    st.key_cap = 64;
    if (!st.key) { PyErr_NoMemory(); goto cleanup; }
    st.names = PyList_New(0);
    st.dtypes = PyList_New(0);
    st.shapes = PyList_New(0);
    st.p_names = PyList_New(0);
    st.p_dtypes = PyList_New(0);
    st.p_shapes = PyList_New(0);
    st.specials = PyList_New(0);
    st.numbers = PyByteArray_FromStringAndSize(NULL, 0);
    st.shapes_seen.pool = PyDict_New();
    if (!st.names || !st.dtypes || !st.shapes || !st.p_names || !st.p_dtypes || !st.p_shapes || !st.specials
        || !st.numbers || !st.shapes_seen.pool || shape_cache_grow(&st.shapes_seen) < 0)
        goto cleanup;
    it = PyObject_GetIter(blocks);
    if (!it) goto cleanup;
    PyObject *item;
    while ((item = PyIter_Next(it))) {
        Py_buffer blk;
        int r = PyObject_GetBuffer(item, &blk, PyBUF_SIMPLE);
        Py_DECREF(item);
        if (r < 0) goto cleanup;
        r = decode_one(&st, blk.buf, blk.len);
        PyBuffer_Release(&blk);
        if (r < 0) goto cleanup;
        if (r) {
            result = Py_None;
            Py_INCREF(result);
            goto cleanup;
        }
    }
    if (PyErr_Occurred()) goto cleanup;
    if (PyByteArray_Resize(st.numbers, st.n * 4 * (Py_ssize_t)sizeof(int64_t)) < 0) goto cleanup;
    result = Py_BuildValue("(OOOOOOOOL)", st.names, st.dtypes, st.shapes, st.p_names, st.p_dtypes, st.p_shapes,
                           st.numbers, st.specials, (long long)st.max_shard);
cleanup:
    Py_XDECREF(it);
    PyBuffer_Release(&sizes);
    Py_XDECREF(st.names);
    Py_XDECREF(st.dtypes);
    Py_XDECREF(st.shapes);
    Py_XDECREF(st.p_names);
    Py_XDECREF(st.p_dtypes);
    Py_XDECREF(st.p_shapes);
    Py_XDECREF(st.specials);
    Py_XDECREF(st.numbers);
    shape_cache_free(&st.shapes_seen);
    PyMem_Free(st.key);
    PyMem_Free(st.fresh);
    return result;
}

/* CRC-32C, slicing by 8: crc_tables[k][b] is the register after byte b then k zero bytes. */
static uint32_t crc_tables[8][256];

static void crc_init(void) {
    for (uint32_t b = 0; b < 256; b++) {
        uint32_t crc = b;
        for (int i = 0; i < 8; i++) crc = (crc >> 1) ^ (crc & 1 ? 0x82F63B78u : 0);
        crc_tables[0][b] = crc;
    }
    for (int k = 1; k < 8; k++)
        for (int b = 0; b < 256; b++)
            crc_tables[k][b] = crc_tables[0][crc_tables[k - 1][b] & 0xFF] ^ (crc_tables[k - 1][b] >> 8);
}

/* crc32c_extend(crc, buffer) -> the CRC-32C of the bytes checksummed as crc followed by buffer */
static PyObject *crc32c_extend(PyObject *self, PyObject *args) {
    unsigned long long start;
    Py_buffer view;
    if (!PyArg_ParseTuple(args, "Ky*", &start, &view)) return NULL;
    const uint8_t *p = view.buf;
    Py_ssize_t n = view.len;
    uint32_t reg = ~(uint32_t)start;
    Py_BEGIN_ALLOW_THREADS
    while (n >= 8) {
        uint32_t lo = reg ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
        reg = crc_tables[7][lo & 0xFF] ^ crc_tables[6][(lo >> 8) & 0xFF] ^ crc_tables[5][(lo >> 16) & 0xFF]
              ^ crc_tables[4][lo >> 24] ^ crc_tables[3][p[4]] ^ crc_tables[2][p[5]] ^ crc_tables[1][p[6]]
              ^ crc_tables[0][p[7]];
        p += 8;
        n -= 8;
    }
    while (n--) reg = crc_tables[0][(reg ^ *p++) & 0xFF] ^ (reg >> 8);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&view);
    return PyLong_FromUnsignedLong(~reg);
}

static PyMethodDef methods[] = {
    {"crc32c_extend", crc32c_extend, METH_VARARGS, "CRC-32C of the bytes checksummed as crc, then the buffer."},
    {"decode_index", decode_index, METH_VARARGS,
     "Every data block of an index as columns (names, dtypes, shapes, numbers), or None when one is not laid out as usual."},
    {NULL}
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "graphaudit.formats._table",
                                    "Checkpoint index blocks decoded in C.", -1, methods};

PyMODINIT_FUNC PyInit__table(void) {
    crc_init();
    return PyModule_Create(&module);
}
