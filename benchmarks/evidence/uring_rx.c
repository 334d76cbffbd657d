// uring_rx.c: the receiving thread's CPU time per packet, N UDP sockets on loopback, one 172-byte
// datagram (a 20 ms G.711 RTP packet) per socket per round, as the engine reads them today and as
// io_uring could:
//   (a) one recvmmsg(vlen 4, MSG_DONTWAIT) per socket with the kernel receive time (SO_TIMESTAMPNS
//       cmsg): the engine's read in tick mode;
//   (b) the same on sockets without SO_TIMESTAMPNS;
//   (c) io_uring: one multishot recvmsg per socket armed once, a provided-buffer ring, completions
//       reaped with io_uring_enter per pass (DEFER_TASKRUN: the receives run in that call), on the
//       sockets of (a).
// Only the receive pass is timed (CLOCK_THREAD_CPUTIME_ID); sending is not (on loopback the sender
// pays the receive softirq, as the bench's generator process does). Median of REPEATS, modes
// interleaved. Not part of the build (liburing-dev >= 2.3, Linux >= 6.1):
//   gcc -O2 -o /tmp/uring_rx benchmarks/evidence/uring_rx.c -luring && taskset -c 1 /tmp/uring_rx 1000 200 5
#define _GNU_SOURCE
#include <liburing.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#define NB 4096
#define BS 2048

static int n, rounds, tx;
static int *fd_ts, *fd_plain;
static struct sockaddr_in *addr_ts, *addr_plain;
static char pkt[172];
static unsigned sink;

static double tcpu(void) {
  struct timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

static void open_sockets(int **fds, struct sockaddr_in **addrs, int timestamps) {
  int one = 1;
  *fds = malloc(n * sizeof(int));
  *addrs = malloc(n * sizeof(struct sockaddr_in));
  for (int i = 0; i < n; i++) {
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    if (timestamps) setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one);
    struct sockaddr_in s = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001)};
    socklen_t l = sizeof s;
    if (bind(fd, (void *)&s, sizeof s) || getsockname(fd, (void *)&(*addrs)[i], &l)) { perror("bind"); exit(1); }
    (*fds)[i] = fd;
  }
}

static void send_round(struct sockaddr_in *addrs) {
  for (int i = 0; i < n; i++) sendto(tx, pkt, sizeof pkt, 0, (void *)&addrs[i], sizeof addrs[i]);
}

static double run_recvmmsg(int *fds, struct sockaddr_in *addrs) {
  static char bufs[4][1500], ctl[4][64];
  struct mmsghdr mm[4];
  struct iovec iov[4];
  struct sockaddr_storage from[4];
  double t = 0;
  long got = 0;
  for (int r = 0; r < rounds; r++) {
    send_round(addrs);
    double t0 = tcpu();
    for (int i = 0; i < n; i++) {
      for (int k = 0; k < 4; k++) {
        iov[k] = (struct iovec){bufs[k], sizeof bufs[k]};
        mm[k].msg_hdr = (struct msghdr){.msg_name = &from[k], .msg_namelen = sizeof from[k], .msg_iov = &iov[k],
                                        .msg_iovlen = 1, .msg_control = ctl[k], .msg_controllen = sizeof ctl[k]};
      }
      int m = recvmmsg(fds[i], mm, 4, MSG_DONTWAIT, NULL);
      for (int k = 0; k < m; k++) sink += (unsigned char)bufs[k][12];
      got += m > 0 ? m : 0;
    }
    t += tcpu() - t0;
  }
  if (got != (long)n * rounds) fprintf(stderr, "recvmmsg: %ld of %ld\n", got, (long)n * rounds);
  return t / got * 1e6;
}

static struct io_uring ring;
static struct io_uring_buf_ring *br;
static char *mem;
static struct msghdr mh = {.msg_namelen = sizeof(struct sockaddr_storage), .msg_controllen = 64};

static void arm(int i) {
  struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
  if (!sqe) { io_uring_submit(&ring); sqe = io_uring_get_sqe(&ring); }
  io_uring_prep_recvmsg_multishot(sqe, fd_ts[i], &mh, 0);
  sqe->flags |= IOSQE_BUFFER_SELECT;
  sqe->buf_group = 0;
  sqe->user_data = i;
}

static void uring_setup(void) {
  struct io_uring_params p = {.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_CQSIZE,
                              .cq_entries = 4 * NB};
  int e = io_uring_queue_init_params(4096, &ring, &p);
  if (e) { fprintf(stderr, "io_uring_queue_init: %s\n", strerror(-e)); exit(1); }
  br = aligned_alloc(4096, NB * sizeof(struct io_uring_buf));
  io_uring_buf_ring_init(br);
  struct io_uring_buf_reg reg = {.ring_addr = (unsigned long)br, .ring_entries = NB, .bgid = 0};
  if ((e = io_uring_register_buf_ring(&ring, &reg, 0))) { fprintf(stderr, "buf ring: %s\n", strerror(-e)); exit(1); }
  mem = aligned_alloc(4096, (size_t)NB * BS);
  for (int b = 0; b < NB; b++) io_uring_buf_ring_add(br, mem + (size_t)b * BS, BS, b, io_uring_buf_ring_mask(NB), b);
  io_uring_buf_ring_advance(br, NB);
  for (int i = 0; i < n; i++) arm(i);
  io_uring_submit(&ring);
}

static double run_uring(void) {
  double t = 0;
  long got = 0;
  for (int r = 0; r < rounds; r++) {
    send_round(addr_ts);
    double t0 = tcpu();
    long seen = 0;
    while (seen < n) {
      io_uring_submit_and_wait(&ring, 1);
      struct io_uring_cqe *cqe;
      unsigned head, c = 0;
      io_uring_for_each_cqe(&ring, head, cqe) {
        c++;
        if (cqe->res >= 0 && (cqe->flags & IORING_CQE_F_BUFFER)) {
          int b = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
          struct io_uring_recvmsg_out *o = io_uring_recvmsg_validate(mem + (size_t)b * BS, cqe->res, &mh);
          if (o) { sink += ((unsigned char *)io_uring_recvmsg_payload(o, &mh))[12]; seen++; }
          io_uring_buf_ring_add(br, mem + (size_t)b * BS, BS, b, io_uring_buf_ring_mask(NB), 0);
          io_uring_buf_ring_advance(br, 1);
        }
        if (!(cqe->flags & IORING_CQE_F_MORE)) arm(cqe->user_data);   // re-arm an ended multishot
      }
      io_uring_cq_advance(&ring, c);
    }
    got += seen;
    t += tcpu() - t0;
  }
  return t / got * 1e6;
}

static int cmp(const void *a, const void *b) { double x = *(double *)a, y = *(double *)b; return (x > y) - (x < y); }

int main(int argc, char **argv) {
  n = argc > 1 ? atoi(argv[1]) : 1000;
  rounds = argc > 2 ? atoi(argv[2]) : 200;
  int reps = argc > 3 ? atoi(argv[3]) : 5;
  memset(pkt, 0xff, sizeof pkt);
  pkt[0] = (char)0x80;
  tx = socket(AF_INET, SOCK_DGRAM, 0);
  open_sockets(&fd_ts, &addr_ts, 1);
  open_sockets(&fd_plain, &addr_plain, 0);
  uring_setup();          // armed on fd_ts: (a) must not run while it is armed, so (a) uses its own sockets
  int *fd_a; struct sockaddr_in *addr_a;
  open_sockets(&fd_a, &addr_a, 1);
  double a[64], b[64], c[64];
  for (int k = 0; k < reps && k < 64; k++) {
    a[k] = run_recvmmsg(fd_a, addr_a);
    b[k] = run_recvmmsg(fd_plain, addr_plain);
    c[k] = run_uring();
  }
  qsort(a, reps, sizeof(double), cmp); qsort(b, reps, sizeof(double), cmp); qsort(c, reps, sizeof(double), cmp);
  printf("%d sockets, %d rounds x %d repeats, receiving thread CPU-us per packet (median, min-max):\n", n, rounds, reps);
  printf("  (a) recvmmsg per socket, SO_TIMESTAMPNS   %.3f  (%.3f-%.3f)\n", a[reps / 2], a[0], a[reps - 1]);
  printf("  (b) recvmmsg per socket, no timestamp     %.3f  (%.3f-%.3f)\n", b[reps / 2], b[0], b[reps - 1]);
  printf("  (c) io_uring multishot recvmsg, one enter %.3f  (%.3f-%.3f)   [%u]\n", c[reps / 2], c[0], c[reps - 1], sink & 1);
  return 0;
}
