# cython: freethreading_compatible=True
"""Socket addresses for the engine: (host, port) tuples into sockaddr_storage."""
import socket as _socket
from libc.stdint cimport uint8_t, uint16_t, uint32_t
from libc.string cimport memset
from voicecore._native.engine.core cimport sockaddr_storage, socklen_t

cdef extern from "<netinet/in.h>" nogil:
    cdef struct in_addr:
        uint32_t s_addr
    cdef struct in6_addr:
        uint8_t s6_addr[16]
    cdef struct sockaddr_in:
        unsigned short sin_family
        uint16_t sin_port
        in_addr sin_addr
    cdef struct sockaddr_in6:
        unsigned short sin6_family
        uint16_t sin6_port
        uint32_t sin6_flowinfo
        in6_addr sin6_addr
        uint32_t sin6_scope_id
    uint16_t htons(uint16_t x)

cdef extern from "<arpa/inet.h>" nogil:
    int inet_pton(int af, const char* src, void* dst)

cdef int set_addr(sockaddr_storage* ss, socklen_t* ln, object addr, int family) except -1:
    """Fill ``ss`` from a (host, port[, flowinfo, scope_id]) tuple, resolving
    names with getaddrinfo in ``family``."""
    cdef sockaddr_in* a4
    cdef sockaddr_in6* a6
    if not isinstance(addr, tuple) or len(addr) < 2:
        raise TypeError(f"address must be a (host, port) tuple, got {addr!r}")
    host, port = addr[0], addr[1]
    if not isinstance(port, int) or not 0 <= port <= 65535:
        raise ValueError(f"port must be an int 0-65535, got {port!r}")
    infos = _socket.getaddrinfo(host, port, family, _socket.SOCK_DGRAM)
    if not infos:
        raise OSError(f"cannot resolve {host!r}")
    sa = infos[0][4]
    memset(ss, 0, sizeof(sockaddr_storage))
    if family == _socket.AF_INET:
        a4 = <sockaddr_in*>ss
        a4.sin_family = _socket.AF_INET
        a4.sin_port = htons(<uint16_t>sa[1])
        if inet_pton(_socket.AF_INET, sa[0].encode(), &a4.sin_addr) != 1:
            raise ValueError(f"not an IPv4 address: {sa[0]!r}")
        ln[0] = sizeof(sockaddr_in)
    else:
        a6 = <sockaddr_in6*>ss
        a6.sin6_family = _socket.AF_INET6
        a6.sin6_port = htons(<uint16_t>sa[1])
        if inet_pton(_socket.AF_INET6, sa[0].split("%")[0].encode(), &a6.sin6_addr) != 1:
            raise ValueError(f"not an IPv6 address: {sa[0]!r}")
        a6.sin6_flowinfo = sa[2] if len(sa) > 2 else 0
        a6.sin6_scope_id = sa[3] if len(sa) > 3 else 0
        ln[0] = sizeof(sockaddr_in6)
    return 0


