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

/* The fields of a BundleEntryProto written the usual way; 1 = not usual, -1 = Python error. */
static int read_entry(const uint8_t *p, Py_ssize_t end, PyObject *shapes, int64_t *row, PyObject **shape) {
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
            int r = read_shape(p + pos, (Py_ssize_t)len, shapes, shape, &row[C_COUNT]);
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

/* decode_block(block, previous, shapes) -> (names, columns, shapes, specials, last_key, all_utf8) | None */
static PyObject *decode_block(PyObject *self, PyObject *args) {
    Py_buffer blk, prev;
    PyObject *previous, *shapes;
    if (!PyArg_ParseTuple(args, "y*OO!", &blk, &previous, &PyDict_Type, &shapes)) return NULL;
    prev.buf = NULL;
    prev.len = 0;
    if (previous != Py_None && PyObject_GetBuffer(previous, &prev, PyBUF_SIMPLE) < 0) {
        PyBuffer_Release(&blk);
        return NULL;
    }
    const uint8_t *b = blk.buf;
    Py_ssize_t size = blk.len;
    PyObject *result = NULL, *names = NULL, *shape_list = NULL, *specials = NULL, *cols = NULL;
    uint8_t *key = NULL;
    Py_ssize_t key_len = 0, key_cap = 0;
    int64_t *rows = NULL;
    Py_ssize_t n = 0, cap = 0;
    uint32_t *fresh = NULL;
    Py_ssize_t n_fresh = 0;
    int all_utf8 = 1;

    key = PyMem_Malloc(64);
    if (!key) { PyErr_NoMemory(); goto fail; }
    key_cap = 64;
    if (size < 4) goto done;
    uint32_t num_restarts = (uint32_t)b[size - 4] | (uint32_t)b[size - 3] << 8 | (uint32_t)b[size - 2] << 16
                            | (uint32_t)b[size - 1] << 24;
    int64_t restarts_at = (int64_t)size - 4 - 4 * (int64_t)num_restarts;
    if (num_restarts == 0 || restarts_at < 0) goto done;
    names = PyList_New(0);
    shape_list = PyList_New(0);
    specials = PyList_New(0);
    if (!names || !shape_list || !specials) goto fail;
    fresh = PyMem_Malloc(sizeof(uint32_t) * (size_t)(restarts_at / 3 + 1));
    if (!fresh) { PyErr_NoMemory(); goto fail; }
    Py_ssize_t pos = 0;
    while (pos < restarts_at) {
        Py_ssize_t entry_at = pos;
        uint32_t shared, non_shared, value_length;
        if (varint32(b, &pos, restarts_at, &shared) || varint32(b, &pos, restarts_at, &non_shared)
            || varint32(b, &pos, restarts_at, &value_length))
            goto done;
        if (shared > key_len) goto done;
        int64_t value_at = (int64_t)pos + non_shared, end = value_at + value_length;
        if (end > restarts_at) goto done;
        if (shared == 0) fresh[n_fresh++] = (uint32_t)entry_at;
        Py_ssize_t new_len = (Py_ssize_t)shared + (Py_ssize_t)non_shared;
        if (new_len > key_cap) {
            Py_ssize_t grown = new_len > 2 * key_cap ? new_len : 2 * key_cap;
            uint8_t *k = PyMem_Realloc(key, (size_t)grown + 1);
            if (!k) { PyErr_NoMemory(); goto fail; }
            key = k;
            key_cap = grown;
        }
        /* Keys rise: against the previous block's last key first, then against the key before,
         * which still fills `key` and shares its first `shared` bytes with this one (the first
         * entry of a block shares none). */
        if (n && cmp_keys(b + pos, non_shared, key + shared, key_len - shared) <= 0) goto done;
        if (non_shared) memcpy(key + shared, b + pos, non_shared);
        key_len = new_len;
        if (n == 0 && prev.buf && cmp_keys(key, key_len, prev.buf, prev.len) <= 0) goto done;
        if (n == cap) {
            Py_ssize_t grown = cap ? 2 * cap : 256;
            int64_t *r = PyMem_Realloc(rows, (size_t)grown * NCOLS * sizeof(int64_t));
            if (!r) { PyErr_NoMemory(); goto fail; }
            rows = r;
            cap = grown;
        }
        int64_t *row = rows + n * NCOLS;
        memset(row, 0, NCOLS * sizeof(int64_t));
        PyObject *name = PyUnicode_DecodeUTF8((const char *)key, key_len, NULL);
        if (!name) {
            if (!PyErr_ExceptionMatches(PyExc_UnicodeDecodeError)) goto fail;
            PyErr_Clear();
            all_utf8 = 0;
            name = PyUnicode_DecodeUTF8((const char *)key, key_len, "surrogateescape");
            if (!name) goto fail;
        }
        int appended = PyList_Append(names, name);
        Py_DECREF(name);
        if (appended < 0) goto fail;
        PyObject *shape = NULL;
        int r = key_len ? read_entry(b + value_at, (Py_ssize_t)value_length, shapes, row, &shape) : 1;
        if (r < 0) goto fail;
        if (r) {
            Py_XDECREF(shape);
            row[C_SPECIAL] = 1;
            shape = Py_None;
            Py_INCREF(shape);
            PyObject *item = Py_BuildValue("ny#", n, (const char *)(b + value_at), (Py_ssize_t)value_length);
            if (!item) { Py_DECREF(shape); goto fail; }
            appended = PyList_Append(specials, item);
            Py_DECREF(item);
            if (appended < 0) { Py_DECREF(shape); goto fail; }
        }
        appended = PyList_Append(shape_list, shape);
        Py_DECREF(shape);
        if (appended < 0) goto fail;
        n++;
        pos = (Py_ssize_t)end;
    }
    /* Every restart offset must point at an entry that shares no prefix (a sorted search). */
    for (uint32_t k = 0; k < num_restarts; k++) {
        const uint8_t *q = b + restarts_at + 4 * (int64_t)k;
        uint32_t off = (uint32_t)q[0] | (uint32_t)q[1] << 8 | (uint32_t)q[2] << 16 | (uint32_t)q[3] << 24;
        if (restarts_at == 0 && off == 0) continue;
        if (!n_fresh || !bsearch(&off, fresh, (size_t)n_fresh, sizeof(uint32_t), cmp_u32)) goto done;
    }
    cols = PyByteArray_FromStringAndSize((const char *)rows, n * NCOLS * (Py_ssize_t)sizeof(int64_t));
    if (!cols) goto fail;
    PyObject *last = PyBytes_FromStringAndSize((const char *)key, key_len);
    if (!last) goto fail;
    result = Py_BuildValue("(OOOONO)", names, cols, shape_list, specials, last, all_utf8 ? Py_True : Py_False);
    goto cleanup;
done:
    result = Py_None;
    Py_INCREF(result);
    goto cleanup;
fail:
    result = NULL;
cleanup:
    if (prev.buf) PyBuffer_Release(&prev);
    PyBuffer_Release(&blk);
    Py_XDECREF(names);
    Py_XDECREF(shape_list);
    Py_XDECREF(specials);
    Py_XDECREF(cols);
    PyMem_Free(key);
    PyMem_Free(rows);
    PyMem_Free(fresh);
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
    {"decode_block", decode_block, METH_VARARGS,
     "The entries of one index block as names, int64 columns and shapes, or None when it is not laid out as usual."},
    {NULL}
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "graphaudit.formats._table",
                                    "Checkpoint index blocks decoded in C.", -1, methods};

PyMODINIT_FUNC PyInit__table(void) {
    crc_init();
    return PyModule_Create(&module);
}
