# Shared inline helpers (compiled into each module that cimports them) for
# taking any C-contiguous buffer (bytes, bytearray, memoryview, numpy) without a
# typed-memoryview acquisition, which costs more than the work on a 20 ms frame.
#
# The one validator of caller buffers: get_input() for data in, get_output_fmt()
# for every out= (element type and size checked). Messages name the public
# function (``what``) and the argument (``arg``); a wrong type is a TypeError.
#
# Alignment: a buffer whose address is not a multiple of the element size the
# caller reads or writes (a memoryview slice at an odd offset, an unaligned
# numpy view) goes through an aligned copy (inputs) or an aligned scratch that
# release() copies back (out=), so native loops never dereference a
# misaligned int16_t* / float* (undefined behaviour; UBSan reports it, and a
# vectorised loop may use aligned loads). Found by fuzz/fuzz_g711_pcm.py.
from cpython.buffer cimport (
    PyObject_GetBuffer, PyBuffer_Release, PyObject_CheckBuffer, PyBUF_C_CONTIGUOUS, PyBUF_FORMAT,
    PyBUF_WRITABLE,
)
from cpython.bytes cimport PyBytes_CheckExact, PyBytes_AS_STRING, PyBytes_GET_SIZE
from libc.stdint cimport uintptr_t
from libc.stdlib cimport free, malloc
from libc.string cimport memcpy

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
    char* bounce           # aligned copy standing in for a misaligned buffer (or NULL)
    char* orig             # the caller's bytes when bounce is used
    bint copy_back         # out=: release() copies bounce back to orig


cdef inline bint _fmt_is(const char* fmt, char code) noexcept:
    if fmt == NULL:
        return code == b'B'
    if fmt[0] == b'<' or fmt[0] == b'=' or fmt[0] == b'@':
        fmt += 1
    return fmt[0] == code and fmt[1] == 0


cdef inline str _kinds(int accept):
    names = []
    if accept & KIND_BYTES:
        names.append("bytes-like")
    if accept & KIND_S16:
        names.append("int16")
    if accept & KIND_F32:
        names.append("float32")
    return " or ".join(names)


cdef inline bint _kind_ok(const char* fmt, Py_ssize_t isz, int accept) noexcept:
    if isz == 1 and (accept & KIND_BYTES):
        return fmt == NULL or _fmt_is(fmt, b'B') or _fmt_is(fmt, b'b') or _fmt_is(fmt, b'c')
    if isz == 2 and (accept & KIND_S16):
        return _fmt_is(fmt, b'h')
    if isz == 4 and (accept & KIND_F32):
        return _fmt_is(fmt, b'f')
    return False


cdef inline int _not_a_buffer(object obj, int accept, const char* what, const char* arg,
                              bint writable) except -1:
    kind = "a writable " if writable else "a "
    raise TypeError(f"{(<bytes>what).decode()}: {(<bytes>arg).decode()} must be {kind}"
                    f"C-contiguous buffer ({_kinds(accept)}), got {type(obj).__name__}")


cdef inline int get_input(object obj, Buf* b, int accept, const char* what,
                          const char* arg=b"data") except -1:
    """Read-only C-contiguous bytes of ``obj``; release with ``release(b)``.

    ``accept`` is a bit set of BufKind. TypeError (naming ``what`` and
    ``arg``) for an object without the buffer protocol or of another element
    type; BufferError for non-contiguous input.
    """
    b.owned = False
    b.bounce = NULL
    if PyBytes_CheckExact(obj):
        # Fast path: bytes are contiguous, read-only, itemsize 1.
        if not (accept & KIND_BYTES):
            raise TypeError(f"{(<bytes>what).decode()}: {(<bytes>arg).decode()} must be a "
                            f"{_kinds(accept)} array, got bytes")
        b.buf = PyBytes_AS_STRING(obj)
        b.len = PyBytes_GET_SIZE(obj)
        b.itemsize = 1
        return 0
    if not PyObject_CheckBuffer(obj):
        _not_a_buffer(obj, accept, what, arg, False)
    PyObject_GetBuffer(obj, &b.view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT)
    b.owned = True
    b.buf = <char*>b.view.buf
    b.len = b.view.len
    b.itemsize = b.view.itemsize
    if _kind_ok(b.view.format, b.itemsize, accept):
        return _align(b, 4 if b.itemsize == 4 else (2 if accept & KIND_S16 else 1), False)
    f = (<bytes>b.view.format).decode('ascii', 'replace') if b.view.format != NULL else 'B'
    isz = b.itemsize
    release(b)
    raise TypeError(f"{(<bytes>what).decode()}: {(<bytes>arg).decode()} must be {_kinds(accept)}, "
                    f"got buffer format {f!r} (itemsize {isz})")


cdef inline int get_output_fmt(object obj, Buf* b, Py_ssize_t nbytes, int accept, const char* what,
                               const char* arg=b"out=") except -1:
    """Writable C-contiguous bytes of ``out``, at least ``nbytes`` long, whose
    element type is one of ``accept`` (BufKind bits): a float32 array cannot
    receive s16 samples. TypeError for a wrong or read-only type, ValueError
    when it is too small."""
    b.owned = False
    b.bounce = NULL
    if not PyObject_CheckBuffer(obj):
        _not_a_buffer(obj, accept, what, arg, True)
    try:
        PyObject_GetBuffer(obj, &b.view, PyBUF_C_CONTIGUOUS | PyBUF_WRITABLE | PyBUF_FORMAT)
    except BufferError as exc:
        raise TypeError(f"{(<bytes>what).decode()}: {(<bytes>arg).decode()} must be a writable "
                        f"C-contiguous buffer ({_kinds(accept)}): {exc}") from None
    b.owned = True
    b.buf = <char*>b.view.buf
    b.len = b.view.len
    b.itemsize = b.view.itemsize
    if not _kind_ok(b.view.format, b.itemsize, accept):
        f = (<bytes>b.view.format).decode('ascii', 'replace') if b.view.format != NULL else 'B'
        isz = b.itemsize
        release(b)
        raise TypeError(f"{(<bytes>what).decode()}: {(<bytes>arg).decode()} must be a {_kinds(accept)} "
                        f"buffer, got format {f!r} (itemsize {isz})")
    if b.len < nbytes:
        have = b.len
        release(b)
        raise ValueError(f"{(<bytes>what).decode()}: {(<bytes>arg).decode()} holds {have} bytes, "
                         f"{nbytes} needed")
    return _align(b, 4 if accept & KIND_F32 else (2 if accept & KIND_S16 else 1), True)


cdef inline int get_s16_output(object obj, Buf* b, Py_ssize_t min_samples, const char* what,
                               const char* arg=b"out=") except -1:
    """``get_output_fmt`` for s16 samples (an int16 array or a bytes-like
    buffer with an even byte count), at least ``min_samples`` long."""
    get_output_fmt(obj, b, 2 * min_samples, KIND_BYTES | KIND_S16, what, arg)
    if b.len & 1:
        n = b.len
        release(b)
        raise ValueError(f"{(<bytes>what).decode()}: {(<bytes>arg).decode()} must hold whole int16 "
                         f"samples, got {n} bytes")
    return 0


cdef inline int get_output(object obj, Buf* b, Py_ssize_t nbytes, const char* what) except -1:
    """s16 ``out=`` of at least ``nbytes`` (kept for jitter.pyx's call until it
    names its element types itself; the same validator as get_output_fmt)."""
    return get_output_fmt(obj, b, nbytes, KIND_BYTES | KIND_S16, what)


cdef inline int _align(Buf* b, uintptr_t align, bint copy_back) except -1:
    """Put an aligned copy in front of a misaligned buffer (see the top)."""
    if (<uintptr_t>b.buf) & (align - 1) == 0 or b.len == 0:
        return 0
    b.bounce = <char*>malloc(<size_t>b.len)
    if b.bounce == NULL:
        release(b)
        raise MemoryError(f"cannot allocate an aligned copy of {b.len} bytes")
    memcpy(b.bounce, b.buf, <size_t>b.len)   # out=: the bytes the callee leaves alone stay as they were
    b.orig = b.buf
    b.copy_back = copy_back
    b.buf = b.bounce
    return 0


cdef inline void release(Buf* b) noexcept:
    if b.owned:
        b.owned = False
        if b.bounce != NULL:
            if b.copy_back:
                memcpy(b.orig, b.bounce, <size_t>b.len)
            free(b.bounce)
            b.bounce = NULL
            b.buf = b.orig
        PyBuffer_Release(&b.view)
