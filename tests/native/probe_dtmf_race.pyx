# Test-only (issue 17): a native consumer thread spinning on dtmf_pop_c while a
# native producer thread (probe_jitter.Run) pushes RFC 4733 packets through push_c.
from libc.stdlib cimport malloc, free
from voicecore._native.media.jitter cimport JitterBuffer, JDtmfEvent


cdef extern from "<pthread.h>" nogil:
    ctypedef struct pthread_t:
        pass
    ctypedef void* (*start_fn)(void*) noexcept nogil
    int pthread_create(pthread_t* thread, const void* attr, start_fn start, void* arg)
    int pthread_join(pthread_t thread, void** retval)


cdef struct Cons:
    void* jb
    int stop
    JDtmfEvent* ev
    int cap
    int n
    long polls


cdef void* cons_main(void* a) noexcept nogil:
    cdef Cons* c = <Cons*>a
    cdef int st
    while True:
        st = __atomic_load_n(&c.stop, 2)
        while c.n < c.cap and (<JitterBuffer>c.jb).dtmf_pop_c(&c.ev[c.n]):
            c.n += 1
        c.polls += 1
        if st:
            break
    return NULL


cdef extern from *:
    int __atomic_load_n(int*, int) nogil
    void __atomic_store_n(int*, int, int) nogil


cdef class Consumer:
    cdef Cons c
    cdef pthread_t th
    cdef JitterBuffer jb

    def __cinit__(self, JitterBuffer jb, int cap):
        self.jb = jb
        self.c.jb = <void*>jb
        self.c.cap = cap
        self.c.ev = <JDtmfEvent*>malloc(cap * sizeof(JDtmfEvent))

    def start(self):
        pthread_create(&self.th, NULL, cons_main, &self.c)

    def stop(self):
        __atomic_store_n(&self.c.stop, 1, 3)
        with nogil:
            pthread_join(self.th, NULL)
        return self.c.polls, [(self.c.ev[i].code, self.c.ev[i].duration, self.c.ev[i].ts) for i in range(self.c.n)]

    def __dealloc__(self):
        free(self.c.ev)
