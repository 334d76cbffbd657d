/* Socket, clock and address helpers of the audio I/O engine (Linux).
 * All are plain syscalls or pure functions: callable without the GIL from the
 * engine's thread. Errors are returned as -errno, never raised. */
#ifndef VOICECORE_VC_IO_H
#define VOICECORE_VC_IO_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <netinet/in.h>
#include <sys/syscall.h>

/* The socket calls of the I/O thread go straight to the kernel: glibc's
 * recvmsg / sendto are cancellation points (they switch the thread's
 * asynchronous cancellation on and off around every call, and set errno
 * through TLS): ~3 % of the receive path's samples at 1,000 calls. The
 * engine's thread is never cancelled. x86-64 only (the one architecture
 * tested here); the others keep the libc calls. Either way the vc_k_*
 * calls below return the kernel's result: >= 0, or -errno. */
#if defined(__linux__) && defined(__x86_64__)
static inline long vc_sys6(long n, long a, long b, long c, long d, long e, long f) {
    long r;
    register long r10 __asm__("r10") = d;
    register long r8 __asm__("r8") = e;
    register long r9 __asm__("r9") = f;
    __asm__ volatile("syscall"
                     : "=a"(r)
                     : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
                     : "rcx", "r11", "memory");
    return r;
}
#define VC_K_RECVMMSG(fd, m, vlen) vc_sys6(SYS_recvmmsg, (fd), (long)(m), (long)(vlen), MSG_DONTWAIT, 0, 0)
#define VC_K_RECVMSG(fd, h) vc_sys6(SYS_recvmsg, (fd), (long)(h), MSG_DONTWAIT, 0, 0, 0)
#define VC_K_SENDTO(fd, buf, n, to, tolen) \
    vc_sys6(SYS_sendto, (fd), (long)(buf), (long)(n), MSG_DONTWAIT, (long)(to), (long)(tolen))
#else
static inline long vc_neg_errno(long r) { return r < 0 ? -errno : r; }
#define VC_K_RECVMMSG(fd, m, vlen) vc_neg_errno(recvmmsg((fd), (m), (vlen), MSG_DONTWAIT, NULL))
#define VC_K_RECVMSG(fd, h) vc_neg_errno(recvmsg((fd), (h), MSG_DONTWAIT))
#define VC_K_SENDTO(fd, buf, n, to, tolen) \
    vc_neg_errno(sendto((fd), (buf), (n), MSG_DONTWAIT, (const struct sockaddr *)(to), (tolen)))
#endif

#define VC_RECV_BATCH 32
#define VC_RECV_BUF 2048

static inline int64_t vc_now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static inline int64_t vc_realtime_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec;
}

#define VC_CMSG_SPACE CMSG_SPACE(sizeof(struct timespec))

/* One recvmmsg() batch: up to VC_RECV_BATCH datagrams with their sources and
 * kernel receive timestamps (SO_TIMESTAMPNS, CLOCK_REALTIME). */
typedef struct {
    struct mmsghdr msgs[VC_RECV_BATCH];
    struct iovec iov[VC_RECV_BATCH];
    struct sockaddr_storage addr[VC_RECV_BATCH];
    union { char buf[VC_CMSG_SPACE]; struct cmsghdr align; } ctl[VC_RECV_BATCH];
    uint8_t *bufs;
} vc_rbatch;

static inline void vc_rbatch_init(vc_rbatch *b, uint8_t *bufs) {
    int i;
    memset(b, 0, sizeof(*b));
    b->bufs = bufs;
    for (i = 0; i < VC_RECV_BATCH; i++) {
        b->iov[i].iov_base = bufs + (size_t)i * VC_RECV_BUF;
        b->iov[i].iov_len = VC_RECV_BUF;
        b->msgs[i].msg_hdr.msg_iov = &b->iov[i];
        b->msgs[i].msg_hdr.msg_iovlen = 1;
        b->msgs[i].msg_hdr.msg_name = &b->addr[i];
    }
}

/* Kernel receive time of datagram i (CLOCK_REALTIME ns), or 0 if absent. */
static inline int64_t vc_rbatch_kts(const vc_rbatch *b, int i) {
    const struct msghdr *m = &b->msgs[i].msg_hdr;
    struct cmsghdr *c;
    if (m->msg_controllen == 0) return 0;
    for (c = CMSG_FIRSTHDR((struct msghdr *)m); c != NULL; c = CMSG_NXTHDR((struct msghdr *)m, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
            struct timespec t;
            memcpy(&t, CMSG_DATA(c), sizeof t);
            return (int64_t)t.tv_sec * 1000000000LL + t.tv_nsec;
        }
    }
    return 0;
}

/* Ask the kernel to stamp every datagram of fd with its receive time. */
static inline int vc_enable_timestamps(int fd) {
    int on = 1;
    return setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof on) == 0 ? 0 : -errno;
}

/* Receive what is waiting (at most vlen datagrams) without blocking.
 * Returns the count, 0 when nothing is waiting, or -errno. */
static inline int vc_rbatch_recv(vc_rbatch *b, int fd, int vlen) {
    int i;
    long r;
    if (vlen > VC_RECV_BATCH) vlen = VC_RECV_BATCH;
    for (i = 0; i < vlen; i++) {
        b->msgs[i].msg_hdr.msg_namelen = sizeof(struct sockaddr_storage);
        b->msgs[i].msg_hdr.msg_control = b->ctl[i].buf;
        b->msgs[i].msg_hdr.msg_controllen = VC_CMSG_SPACE;
        b->msgs[i].msg_hdr.msg_flags = 0;
        b->msgs[i].msg_len = 0;
    }
    do {
        r = VC_K_RECVMMSG(fd, b->msgs, (unsigned)vlen);
    } while (r == -EINTR);
    if (r < 0) return (r == -EAGAIN || r == -EWOULDBLOCK) ? 0 : (int)r;
    return (int)r;
}

/* Receive one datagram into slot 0 with recvmsg (cheaper than a recvmmsg,
 * which after the last waiting datagram tries once more and finds the queue
 * empty). Returns 1, 0 when nothing is waiting, or -errno. */
static inline int vc_rbatch_recv1(vc_rbatch *b, int fd) {
    struct msghdr *h = &b->msgs[0].msg_hdr;
    long r;
    h->msg_namelen = sizeof(struct sockaddr_storage);
    h->msg_control = b->ctl[0].buf;
    h->msg_controllen = VC_CMSG_SPACE;
    h->msg_flags = 0;
    do {
        r = VC_K_RECVMSG(fd, h);
    } while (r == -EINTR);
    if (r < 0) return (r == -EAGAIN || r == -EWOULDBLOCK) ? 0 : (int)r;
    b->msgs[0].msg_len = (unsigned)r;
    return 1;
}

/* Length of datagram i; a truncated one reports VC_RECV_BUF (> 1500: oversize). */
static inline int vc_rbatch_len(const vc_rbatch *b, int i) {
    if (b->msgs[i].msg_hdr.msg_flags & MSG_TRUNC) return VC_RECV_BUF;
    return (int)b->msgs[i].msg_len;
}

static inline const uint8_t *vc_rbatch_data(const vc_rbatch *b, int i) {
    return b->bufs + (size_t)i * VC_RECV_BUF;
}

static inline const struct sockaddr_storage *vc_rbatch_addr(const vc_rbatch *b, int i) {
    return &b->addr[i];
}

static inline socklen_t vc_rbatch_addrlen(const vc_rbatch *b, int i) {
    return b->msgs[i].msg_hdr.msg_namelen;
}

/* Same family, address and port (IPv4 / IPv6). */
static inline int vc_addr_equal(const struct sockaddr_storage *a, const struct sockaddr_storage *b) {
    if (a->ss_family != b->ss_family) return 0;
    if (a->ss_family == AF_INET) {
        const struct sockaddr_in *x = (const struct sockaddr_in *)a, *y = (const struct sockaddr_in *)b;
        return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
    }
    if (a->ss_family == AF_INET6) {
        const struct sockaddr_in6 *x = (const struct sockaddr_in6 *)a, *y = (const struct sockaddr_in6 *)b;
        return x->sin6_port == y->sin6_port && memcmp(&x->sin6_addr, &y->sin6_addr, 16) == 0;
    }
    return 0;
}

/* Same family and address, any port. */
static inline int vc_host_equal(const struct sockaddr_storage *a, const struct sockaddr_storage *b) {
    if (a->ss_family != b->ss_family) return 0;
    if (a->ss_family == AF_INET)
        return ((const struct sockaddr_in *)a)->sin_addr.s_addr == ((const struct sockaddr_in *)b)->sin_addr.s_addr;
    if (a->ss_family == AF_INET6)
        return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr, &((const struct sockaddr_in6 *)b)->sin6_addr, 16) == 0;
    return 0;
}

static inline int vc_addr_port(const struct sockaddr_storage *a) {
    if (a->ss_family == AF_INET) return ntohs(((const struct sockaddr_in *)a)->sin_port);
    if (a->ss_family == AF_INET6) return ntohs(((const struct sockaddr_in6 *)a)->sin6_port);
    return 0;
}

static inline void vc_addr_set_port(struct sockaddr_storage *a, int port) {
    if (a->ss_family == AF_INET) ((struct sockaddr_in *)a)->sin_port = htons((uint16_t)port);
    else if (a->ss_family == AF_INET6) ((struct sockaddr_in6 *)a)->sin6_port = htons((uint16_t)port);
}

static inline int vc_sendto(int fd, const void *buf, size_t n, const struct sockaddr_storage *to, socklen_t tolen) {
    long r;
    do {
        r = VC_K_SENDTO(fd, buf, n, to, tolen);
    } while (r == -EINTR);
    return r < 0 ? (int)r : 0;
}

/* Periodic absolute timer: first expiry at first_ns (CLOCK_MONOTONIC), then
 * every interval_ns; interval 0 and first 0 disarm it. */
static inline int vc_timer_arm(int fd, int64_t first_ns, int64_t interval_ns) {
    struct itimerspec its;
    its.it_value.tv_sec = first_ns / 1000000000LL;
    its.it_value.tv_nsec = first_ns % 1000000000LL;
    its.it_interval.tv_sec = interval_ns / 1000000000LL;
    its.it_interval.tv_nsec = interval_ns % 1000000000LL;
    return timerfd_settime(fd, TFD_TIMER_ABSTIME, &its, NULL);
}

/* Eventfd signal / drain (also used for the command fd). */
static inline int vc_efd_signal(int fd) {
    uint64_t one = 1;
    ssize_t r = write(fd, &one, sizeof one);
    return (r < 0 && errno != EAGAIN) ? -errno : 0;
}

static inline uint64_t vc_efd_drain(int fd) {
    uint64_t n = 0;
    if (read(fd, &n, sizeof n) != (ssize_t)sizeof n) return 0;
    return n;
}

#endif /* VOICECORE_VC_IO_H */
