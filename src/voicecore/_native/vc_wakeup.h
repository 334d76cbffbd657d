/* A file descriptor an event loop can wait on (loop.add_reader): an eventfd on
 * Linux, a non-blocking pipe elsewhere (macOS). Used by the frame queue
 * (media/ring/frames.pyx). The pipe can be forced on Linux too (force_pipe),
 * so the fallback every non-Linux platform uses is tested where CI runs.
 * All calls are async-signal-safe syscalls: callable from a native thread
 * without the GIL. They return 0 / a count on success, -errno on failure.
 *
 * fds[0]: read end (give to add_reader); fds[1]: write end. An eventfd has
 * fds[0] == fds[1], a pipe two different fds: signal/drain tell them apart. */
#ifndef VOICECORE_VC_WAKEUP_H
#define VOICECORE_VC_WAKEUP_H

#include <errno.h>
#include <stdint.h>
#include <unistd.h>
#include <fcntl.h>
#if defined(__linux__)
#include <sys/eventfd.h>
#endif

static inline int vc_wakeup_open_pipe(int fds[2]) {
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
}

static inline int vc_wakeup_open(int fds[2], int force_pipe) {
#if defined(__linux__)
    if (!force_pipe) {
        int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (fd < 0) return -errno;
        fds[0] = fd;
        fds[1] = fd;
        return 0;
    }
#endif
    (void)force_pipe;
    return vc_wakeup_open_pipe(fds);
}

/* Make the read end readable. A full pipe (EAGAIN) is already readable: fine. */
static inline int vc_wakeup_signal(const int fds[2]) {
    ssize_t r;
    if (fds[0] == fds[1]) {              /* eventfd: add 1 to its counter */
        uint64_t one = 1;
        r = write(fds[1], &one, sizeof one);
    } else {                             /* pipe: one byte */
        char one = 1;
        r = write(fds[1], &one, 1);
    }
    if (r < 0 && errno != EAGAIN && errno != EINTR) return -errno;
    return 0;
}

/* Consume every pending signal; returns how many were pending (the eventfd
 * count, or bytes for a pipe; 0 if none). */
static inline long vc_wakeup_drain(const int fds[2]) {
    if (fds[0] == fds[1]) {
        uint64_t n = 0;
        ssize_t r = read(fds[0], &n, sizeof n);
        if (r < 0) return errno == EAGAIN ? 0 : -errno;
        return (long)n;
    } else {
        char buf[256];
        long total = 0;
        for (;;) {
            ssize_t r = read(fds[0], buf, sizeof buf);
            if (r > 0) { total += r; continue; }
            if (r < 0 && errno == EINTR) continue;
            if (r < 0 && errno != EAGAIN) return -errno;
            return total;
        }
    }
}

static inline void vc_wakeup_close(int fds[2]) {
    if (fds[0] >= 0) close(fds[0]);
    if (fds[1] >= 0 && fds[1] != fds[0]) close(fds[1]);
    fds[0] = -1;
    fds[1] = -1;
}

#endif /* VOICECORE_VC_WAKEUP_H */
