from voicecore._native.engine.core cimport sockaddr_storage, socklen_t

# Fill ``ss`` from a (host, port[, flowinfo, scope_id]) tuple, resolving names
# in ``family`` (AF_INET / AF_INET6). TypeError / ValueError / OSError on bad input.
cdef int set_addr(sockaddr_storage* ss, socklen_t* ln, object addr, int family) except -1
