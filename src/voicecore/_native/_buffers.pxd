# Shared inline helpers (compiled into each module that cimports them) for
# taking any C-contiguous buffer (bytes, bytearray, memoryview, numpy) without a
# typed-memoryview acquisition, which costs more than the work on a 20 ms frame.
from cpython.buffer cimport (
    PyObject_GetBuffer, PyBuffer_Release, PyBUF_C_CONTIGUOUS, PyBUF_FORMAT,
    PyBUF_WRITABLE,
)
from cpython.bytes cimport PyBytes_CheckExact, PyBytes_AS_STRING, PyBytes_GET_SIZE

cdef enum BufKind:
    KIND_BYTES = 1     # itemsize 1 (bytes, bytearray, uint8/int8 arrays)
    KIND_S16 = 2       # itemsize 2, format 'h' (native little-endian int16)
    KIND_F32 = 4       # itemsize 4, format 'f' (native float32)


cdef struct Buf:
    char* buf
    Py_ssize_t len         # bytes
    Py_ssize_t itemsize
    bint owned             # view below must be released
    Py_buffer view


cdef inline bint _fmt_is(const char* fmt, char code) noexcept:
    if fmt == NULL:
        return code == b'B'
    if fmt[0] == b'<' or fmt[0] == b'=' or fmt[0] == b'@':
        fmt += 1
    return fmt[0] == code and fmt[1] == 0


cdef inline int get_input(object obj, Buf* b, int accept, const char* what) except -1:
    """Read-only C-contiguous bytes of ``obj``; release with ``release(b)``.

    ``accept`` is a bit set of BufKind. Raises TypeError naming the buffer
    format on a mismatch and BufferError for non-contiguous input.
    """
    b.owned = False
    if PyBytes_CheckExact(obj):
        # Fast path: bytes are contiguous, read-only, itemsize 1.
        if not (accept & KIND_BYTES):
            raise TypeError(f"{(<bytes>what).decode()}: expected a float32 array, got bytes")
        b.buf = PyBytes_AS_STRING(obj)
        b.len = PyBytes_GET_SIZE(obj)
        b.itemsize = 1
        return 0
    PyObject_GetBuffer(obj, &b.view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT)
    b.owned = True
    b.buf = <char*>b.view.buf
    b.len = b.view.len
    b.itemsize = b.view.itemsize
    cdef const char* fmt = b.view.format
    cdef Py_ssize_t isz = b.itemsize
    if isz == 1 and (accept & KIND_BYTES):
        if fmt == NULL or _fmt_is(fmt, b'B') or _fmt_is(fmt, b'b') or _fmt_is(fmt, b'c'):
            return 0
    elif isz == 2 and (accept & KIND_S16) and _fmt_is(fmt, b'h'):
        return 0
    elif isz == 4 and (accept & KIND_F32) and _fmt_is(fmt, b'f'):
        return 0
    f = (<bytes>fmt).decode('ascii', 'replace') if fmt != NULL else 'B'
    release(b)
    raise TypeError(f"{(<bytes>what).decode()}: unsupported buffer format {f!r} (itemsize {isz})")


cdef inline int get_output(object obj, Buf* b, Py_ssize_t nbytes, const char* what) except -1:
    """Writable C-contiguous bytes of ``out``, at least ``nbytes`` long."""
    PyObject_GetBuffer(obj, &b.view, PyBUF_C_CONTIGUOUS | PyBUF_WRITABLE)
    b.owned = True
    b.buf = <char*>b.view.buf
    b.len = b.view.len
    b.itemsize = b.view.itemsize
    if b.len < nbytes:
        have = b.len
        release(b)
        raise ValueError(f"{(<bytes>what).decode()}: out= holds {have} bytes, {nbytes} needed")
    return 0


cdef inline int get_output_fmt(object obj, Buf* b, Py_ssize_t nbytes, int accept, const char* what) except -1:
    """Like ``get_output``, and the buffer's element type must be one of
    ``accept`` (BufKind bits): a float32 array cannot receive s16 samples."""
    PyObject_GetBuffer(obj, &b.view, PyBUF_C_CONTIGUOUS | PyBUF_WRITABLE | PyBUF_FORMAT)
    b.owned = True
    b.buf = <char*>b.view.buf
    b.len = b.view.len
    b.itemsize = b.view.itemsize
    cdef const char* fmt = b.view.format
    cdef bint ok = False
    if b.itemsize == 1 and (accept & KIND_BYTES):
        ok = fmt == NULL or _fmt_is(fmt, b'B') or _fmt_is(fmt, b'b') or _fmt_is(fmt, b'c')
    elif b.itemsize == 2 and (accept & KIND_S16):
        ok = _fmt_is(fmt, b'h')
    elif b.itemsize == 4 and (accept & KIND_F32):
        ok = _fmt_is(fmt, b'f')
    if not ok:
        f = (<bytes>fmt).decode('ascii', 'replace') if fmt != NULL else 'B'
        isz = b.itemsize
        release(b)
        names = []
        if accept & KIND_BYTES:
            names.append("bytes")
        if accept & KIND_S16:
            names.append("int16")
        if accept & KIND_F32:
            names.append("float32")
        want = " or ".join(names)
        raise TypeError(f"{(<bytes>what).decode()}: out= must be a {want} buffer, got format {f!r} (itemsize {isz})")
    if b.len < nbytes:
        have = b.len
        release(b)
        raise ValueError(f"{(<bytes>what).decode()}: out= holds {have} bytes, {nbytes} needed")
    return 0


cdef inline void release(Buf* b) noexcept:
    if b.owned:
        b.owned = False
        PyBuffer_Release(&b.view)
