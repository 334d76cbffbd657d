/* A file descriptor an event loop can wait on (loop.add_reader): an eventfd on
 * Linux, a non-blocking pipe elsewhere (macOS). Used by ring.pyx's FrameQueue.
 * All calls are async-signal-safe syscalls: callable from a native thread
 * without the GIL. They return 0 / a count on success, -errno on failure. */
#ifndef VOICECORE_VC_WAKEUP_H
#define VOICECORE_VC_WAKEUP_H

#include <errno.h>
#include <stdint.h>
#include <unistd.h>
#include <fcntl.h>
#if defined(__linux__)
#include <sys/eventfd.h>
#endif

/* fds[0]: read end (give to add_reader), fds[1]: write end (== fds[0] for eventfd). */
static inline int vc_wakeup_open(int fds[2]) {
#if defined(__linux__)
    int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (fd < 0) return -errno;
    fds[0] = fd;
    fds[1] = fd;
    return 0;
#else
    int p[2], i;
    if (pipe(p) != 0) return -errno;
    for (i = 0; i < 2; i++) {
        int fl = fcntl(p[i], F_GETFL);
        if (fl < 0 || fcntl(p[i], F_SETFL, fl | O_NONBLOCK) != 0 ||
            fcntl(p[i], F_SETFD, FD_CLOEXEC) != 0) {
            int e = errno;
            close(p[0]);
            close(p[1]);
            return -e;
        }
    }
    fds[0] = p[0];
    fds[1] = p[1];
    return 0;
#endif
}

/* Make the read end readable. A full pipe (EAGAIN) is already readable: fine. */
static inline int vc_wakeup_signal(int wfd) {
#if defined(__linux__)
    uint64_t one = 1;
    ssize_t r = write(wfd, &one, sizeof one);
#else
    char one = 1;
    ssize_t r = write(wfd, &one, 1);
#endif
    if (r < 0 && errno != EAGAIN && errno != EINTR) return -errno;
    return 0;
}

/* Consume every pending signal; returns how many bytes/events were pending (0 if none). */
static inline long vc_wakeup_drain(int rfd) {
#if defined(__linux__)
    uint64_t n = 0;
    ssize_t r = read(rfd, &n, sizeof n);
    if (r < 0) return errno == EAGAIN ? 0 : -errno;
    return (long)n;
#else
    char buf[256];
    long total = 0;
    for (;;) {
        ssize_t r = read(rfd, buf, sizeof buf);
        if (r > 0) { total += r; continue; }
        if (r < 0 && errno != EAGAIN && errno != EINTR) return -errno;
        return total;
    }
#endif
}

static inline void vc_wakeup_close(int fds[2]) {
    if (fds[0] >= 0) close(fds[0]);
    if (fds[1] >= 0 && fds[1] != fds[0]) close(fds[1]);
    fds[0] = -1;
    fds[1] = -1;
}

#endif /* VOICECORE_VC_WAKEUP_H */
