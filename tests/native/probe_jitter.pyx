# Test-only: cimports the jitter buffer's engine API from the installed .pxd
# files (tests/test_jitter_probe.py) and drives it the way the audio I/O
# engine will: inside ``with nogil`` and from a native thread.
from libc.stdint cimport int16_t, int64_t, uint8_t, uint32_t
from libc.stdlib cimport malloc, free
from libc.string cimport memcpy
from posix.unistd cimport usleep
from voicecore._native.media.jitter cimport (
    JitterBuffer, JStats, JDtmfEvent, JRtcp,
    R_OK, R_HELD, R_DUPLICATE, R_LATE, R_MALFORMED, R_OVERSIZE, R_UNKNOWN_PT, R_FOREIGN,
    R_FOREIGN_SSRC, R_DISCARDED, R_MALFORMED_DTMF,
    K_AUDIO, K_CONCEALED, K_SILENCE, K_COMFORT_NOISE,
)


cdef extern from "<pthread.h>" nogil:
    ctypedef struct pthread_t:
        pass
    ctypedef void* (*start_fn)(void*) noexcept nogil
    int pthread_create(pthread_t* thread, const void* attr, start_fn start, void* arg)
    int pthread_join(pthread_t thread, void** retval)


def codes() -> dict:
    """The push results and frame kinds as the .pxd names them."""
    return dict(R_OK=R_OK, R_HELD=R_HELD, R_DUPLICATE=R_DUPLICATE, R_LATE=R_LATE, R_MALFORMED=R_MALFORMED,
                R_OVERSIZE=R_OVERSIZE, R_UNKNOWN_PT=R_UNKNOWN_PT, R_FOREIGN=R_FOREIGN,
                R_FOREIGN_SSRC=R_FOREIGN_SSRC, R_DISCARDED=R_DISCARDED, R_MALFORMED_DTMF=R_MALFORMED_DTMF,
                K_AUDIO=K_AUDIO, K_CONCEALED=K_CONCEALED, K_SILENCE=K_SILENCE, K_COMFORT_NOISE=K_COMFORT_NOISE)


# ---------------------------------------------------------------- a script of pushes and pulls
cdef struct Script:
    void* jb
    const uint8_t* blob
    int64_t* off            # event i: a datagram at blob[off[i] .. off[i] + ln[i]), or a pull when ln[i] < 0
    int64_t* ln
    int64_t* t              # arrival / pull time (ns)
    int n
    int* result             # push result or frame kind per event
    int16_t* pcm            # frame_samples_c() samples per pull
    int pause_us            # native sleep after each DTMF report (producer pacing)


cdef void run_script(Script* sc) noexcept nogil:
    # a borrowed pointer: the Run object keeps the buffer alive
    cdef int i, npull = 0, fs = (<JitterBuffer>sc.jb).frame_samples_c()
    for i in range(sc.n):
        if sc.ln[i] < 0:
            sc.result[i] = (<JitterBuffer>sc.jb).pull_c(sc.pcm + npull * fs, sc.t[i])
            npull += 1
        else:
            sc.result[i] = (<JitterBuffer>sc.jb).push_c(sc.blob + sc.off[i], sc.ln[i], sc.t[i])
            if sc.pause_us:
                usleep(sc.pause_us)


cdef void* thread_main(void* arg) noexcept nogil:
    run_script(<Script*>arg)
    return NULL


cdef class Run:
    """A script of (time_ns, datagram | None) events for one buffer; None = a pull."""
    cdef Script sc
    cdef bytes blob
    cdef JitterBuffer jb
    cdef pthread_t th
    cdef bint started
    cdef int npull

    def __cinit__(self, JitterBuffer jb, list events, int pause_us=0):
        cdef int i
        self.jb = jb
        self.blob = b"".join(d for _, d in events if d is not None)
        self.sc.jb = <void*>jb
        self.sc.blob = <const uint8_t*><char*>self.blob
        self.sc.n = len(events)
        self.sc.pause_us = pause_us
        self.npull = sum(1 for _, d in events if d is None)
        self.sc.off = <int64_t*>malloc(self.sc.n * sizeof(int64_t) + 8)
        self.sc.ln = <int64_t*>malloc(self.sc.n * sizeof(int64_t) + 8)
        self.sc.t = <int64_t*>malloc(self.sc.n * sizeof(int64_t) + 8)
        self.sc.result = <int*>malloc(self.sc.n * sizeof(int) + 8)
        self.sc.pcm = <int16_t*>malloc(self.npull * jb.frame_samples * sizeof(int16_t) + 8)
        if not (self.sc.off and self.sc.ln and self.sc.t and self.sc.result and self.sc.pcm):
            raise MemoryError()
        pos = 0
        for i, (t, d) in enumerate(events):
            self.sc.t[i] = t
            if d is None:
                self.sc.off[i] = 0
                self.sc.ln[i] = -1
            else:
                self.sc.off[i] = pos
                self.sc.ln[i] = len(d)
                pos += len(d)

    def __dealloc__(self):
        free(self.sc.off)
        free(self.sc.ln)
        free(self.sc.t)
        free(self.sc.result)
        free(self.sc.pcm)

    def run_nogil(self):
        """Run the script on this thread without the GIL."""
        with nogil:
            run_script(&self.sc)

    def start_thread(self):
        """Run the script on a new native thread (no Python thread state)."""
        if pthread_create(&self.th, NULL, thread_main, &self.sc) != 0:
            raise OSError("pthread_create failed")
        self.started = True

    def join(self):
        if self.started:
            with nogil:
                pthread_join(self.th, NULL)
            self.started = False

    @property
    def results(self) -> list:
        return [self.sc.result[i] for i in range(self.sc.n)]

    @property
    def pcm(self) -> bytes:
        return (<char*>self.sc.pcm)[:self.npull * self.jb.frame_samples * 2]


# ---------------------------------------------------------------- the other cdef calls
def sizes(JitterBuffer jb) -> tuple:
    cdef int fs, cr, rr
    with nogil:
        fs = jb.frame_samples_c()
        cr = jb.clock_rate_c()
        rr = jb.rtp_clock_rate_c()
    return fs, cr, rr


def stats(JitterBuffer jb) -> dict:
    """stats_c() read without the GIL, as a dict of the JStats fields."""
    cdef JStats st
    with nogil:
        st = jb.stats_c()[0]
    return st


def rtcp(JitterBuffer jb, bint new_interval) -> dict:
    cdef JRtcp r
    with nogil:
        jb.rtcp_c(&r, new_interval)
    return r


def pop_dtmf(JitterBuffer jb) -> list:
    """Every queued digit via dtmf_pop_c, without the GIL."""
    cdef JDtmfEvent ev[64]
    cdef int n = 0
    with nogil:
        while n < 64 and jb.dtmf_pop_c(&ev[n]):
            n += 1
    return [(ev[i].code, ev[i].duration, ev[i].ts) for i in range(n)]


def adopt(JitterBuffer jb):
    jb.engine_adopt()


def release(JitterBuffer jb):
    with nogil:
        jb.engine_release()
