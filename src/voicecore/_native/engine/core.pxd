# Shared state of the audio I/O engine (voicecore._native.engine).
#
# Ownership. A `Core` is created and freed by the Python `Engine` object
# (engine.pyx). Its I/O thread (io.pyx) is the only writer of everything below
# marked "thread"; Python (the event-loop side, with the GIL or the Engine's
# critical section) is the only writer of what is marked "python". The two
# sides meet only through:
#   - the command queue (python -> thread, SPSC under `cmd_lock`, eventfd `cmd_fd`),
#   - the event queue and frame queues (thread -> python, SPSC, eventfd `loop_fd`
#     written at most once per tick and only when python armed it),
#   - each session's outbound sample ring (python writes, thread reads),
#   - 64-bit statistics words (thread writes, python reads a possibly-stale value).
# Sessions are only ever freed by python after the thread has acknowledged
# their removal (EV_REMOVED), so the thread never touches freed memory.
from libc.stdint cimport int16_t, int32_t, int64_t, uint8_t, uint16_t, uint32_t, uint64_t
from cpython.ref cimport PyObject
from voicecore._native.atomic cimport vc_u64
from voicecore._native.media.ring cimport vc_sring, vc_aec, vc_fqueue

cdef extern from "<sys/socket.h>" nogil:
    ctypedef unsigned int socklen_t
    cdef struct sockaddr_storage:
        unsigned short ss_family

cdef extern from "<pthread.h>" nogil:
    ctypedef struct pthread_t:
        pass
    ctypedef struct pthread_mutex_t:
        pass

# ------------------------------------------------------------------ limits
cdef enum:
    MAX_FRAME = 2880           # samples: 60 ms at 48 kHz (largest frame anywhere)
    RECV_BUF = 2048            # bytes per receive buffer (datagrams > 1500 are counted oversize)
    RECV_BATCH = 32            # datagrams per recvmmsg call
    RECV_MAX = 256             # datagrams read per socket per wake-up (bound)
    SLOT_FILL = 128            # sessions a sub-slot takes before the next one is used
    MAX_QUEUES = 4             # distinct inbound frame sizes (one frame queue each)
    N_SEG = 8                  # pending outbound rate segments per session
    N_DTMF_OUT = 16            # queued outbound DTMF digits per session
    HIST_BUCKETS = 512         # log-linear histogram, 16 sub-buckets per octave (queues.pxd)

# ------------------------------------------------------------------ codecs (outbound)
cdef enum:
    OC_PCMU = 0
    OC_PCMA = 8
    OC_L16 = 100
    OC_G722 = 9                # encoder object in Sess.enc (G722Encoder)
    OC_OPUS = 111              # encoder object in Sess.enc (OpusEncoder)

# ------------------------------------------------------------------ session states
cdef enum:
    S_FREE = 0
    S_ADDING = 1               # prepared by python, command in flight
    S_ACTIVE = 2
    S_REMOVING = 3             # removed by the thread, EV_REMOVED not yet posted
    S_RELEASED = 4             # EV_REMOVED posted: python frees it

# ------------------------------------------------------------------ commands
cdef enum:
    C_ADD = 1                  # a: session index
    C_REMOVE = 2               # a: index, b: send BYE
    C_FLUSH_OUT = 3            # a: index (interrupt: drop queued outbound audio)
    C_SEGMENT = 4              # a: index (a new outbound rate segment was queued)
    C_END = 5                  # a: index, b: ring position where the response ends, c: token
    C_DTMF = 6                 # a: index, b: event code, c: duration (ms) | volume << 32
    C_SET_REMOTE = 7           # a: index (remote address in the session's pending slot)
    C_FLAGS = 8                # a: index, b: new flag word
    C_STOP = 9

cdef struct Cmd:
    uint32_t op
    uint32_t gen
    int64_t a
    int64_t b
    int64_t c

# ------------------------------------------------------------------ events (thread -> python)
cdef enum:
    EV_READY = 1               # socket live in the engine
    EV_REMOVED = 2             # python may now free the session
    EV_DTMF = 3                # a: code, b: duration (RTP ts units), c: rtp ts
    EV_INACTIVE = 4            # a: ms since the last packet
    EV_ACTIVE = 5              # packets again after EV_INACTIVE
    EV_BYE = 6                 # RTCP BYE from the peer
    EV_PLAYED = 7              # a: token of the response, b: samples sent, c: 1 if interrupted
    EV_ERROR = 8               # a: errno, b: where (E_* below)
    EV_DTMF_SENT = 9           # a: code
    EV_LATCHED = 10            # remote address changed by latching
    EV_RTCP = 11               # a peer report was parsed (stats updated)

cdef enum:
    E_RECV = 1
    E_SEND = 2
    E_EPOLL = 3
    E_TIMER = 4
    E_RTCP_SEND = 5

cdef struct Ev:
    uint32_t type
    uint32_t session
    uint32_t gen
    uint32_t _pad
    int64_t a
    int64_t b
    int64_t c

# ------------------------------------------------------------------ session flags (python-owned)
cdef enum:
    F_DELIVER = 1              # push inbound frames to python
    F_PLAYED = 2               # push sent frames to python (on_audio_played)
    F_LATCH = 4                # NAT latching instead of strict source
    F_DELIVER_EARLY = 8        # deliver silence frames before the first packet
    F_MUTED = 16               # input muted: frames delivered as silence (still paced)
    F_IDLE_SILENCE = 32        # while nothing is queued, send encoded silence every period
    F_IDLE_CN = 64             # while nothing is queued, send RFC 3389 comfort noise every 500 ms

cdef struct SessStats:
    # engine-level per-session figures (the jitter buffer keeps its own JStats)
    uint64_t foreign_source
    uint64_t foreign_rtcp
    uint64_t recv_errors
    uint64_t consumer_overflow
    uint64_t frames_delivered
    uint64_t packets_sent
    uint64_t octets_sent
    uint64_t send_errors
    uint64_t frames_sent
    uint64_t pacer_underruns
    uint64_t pacer_max_behind_ns
    uint64_t dtmf_sent
    uint64_t dtmf_dropped
    uint64_t rtcp_sent
    uint64_t rtcp_received
    uint64_t rtcp_malformed
    uint64_t latches
    uint64_t played_overflow
    uint64_t events_dropped
    uint64_t segments_dropped
    uint64_t encode_errors
    uint64_t srtp_auth_fail            # SRTP/SRTCP authentication failed (tampered, wrong key)
    uint64_t srtp_replay               # replayed (or older than the replay window)
    uint64_t srtp_malformed            # too short / unparsable for SRTP
    uint64_t srtp_other                # any other unprotect failure
    uint64_t srtp_protect_fail         # outbound protect refused
    # last figures from the peer's reports about our stream
    uint64_t peer_fraction_lost        # 0..255 (x/256)
    int64_t peer_cumulative_lost
    uint64_t peer_jitter               # RTP ts units
    uint64_t rtt_us                    # 0 until measured

cdef struct Seg:
    uint64_t pos                # ring position where this rate starts
    int32_t rate                # source rate (Hz)
    PyObject* rs                # Resampler rate -> clock rate (NULL: same rate); python holds the ref

cdef struct DtmfOut:
    int32_t code
    int32_t duration_ms
    int32_t volume

cdef struct Sess:
    # Field order is by access pattern: the first block is what every tick and
    # every received packet touch (a few cache lines per session per tick);
    # fields python writes while the thread runs sit in a block of their own
    # so they do not bounce the thread's hot lines.
    # ---- hot: thread, every tick / packet
    uint32_t idx
    uint32_t gen
    int32_t state
    uint32_t tflags              # thread's copy of flags
    int fd
    int rtcp_fd                  # -1: RTCP muxed on fd or off
    PyObject* jb                 # JitterBuffer (python holds the reference)
    void* jbs                    # its state (JBState*, for prefetching without touching the object)
    PyObject* in_rs              # Resampler clock -> output rate, or NULL
    int16_t* in_buf              # frame_in samples
    int16_t* in_rs_buf           # frame_out + slack samples
    int32_t frame_in             # samples per frame at the audio rate (clock_rate)
    int32_t ts_step              # RTP timestamp units per frame (frame_in x rtp_clock / clock_rate)
    PyObject* srtp               # SRTPSession or NULL (python holds the reference)
    int32_t queue                # index of the frame queue for frame_out
    uint64_t frames_out          # frames produced (timestamp_ms = frames_out * frame_ms)
    int64_t last_rx_ns
    # tick-mode read policy (io._readable): the previous read of the RTP
    # socket, and the newest packet the jitter buffer stored
    int64_t rx_read_ns
    uint32_t rx_ts
    uint16_t rx_seq
    bint rx_have
    int64_t inactivity_ns        # 0 = off
    vc_sring* out_ring
    int32_t stage_n
    bint have_media              # a packet was accepted by the jitter buffer
    bint inactive
    bint talking
    bint need_marker
    bint dt_active
    int32_t dq_len
    int64_t end_pos              # pending response end (ring position), -1 none
    uint64_t ticks               # periods since the session's first tick (ts = ts_base + ticks * frame_in)
    uint64_t p0                  # period index of the first tick
    bint p0_set
    bint rtcp_on
    int64_t next_rtcp_ns
    vc_u64 seg_r                 # thread's read index of the mark ring
    # ---- written by python while the thread runs
    char _pad_py[64]
    uint32_t flags               # F_* (python's copy; the thread gets it through C_FLAGS)
    vc_u64 seg_w                 # python appends marks at seg_w (release)
    vc_u64 end_w                 # python's count of responses closed (for is_playing)
    sockaddr_storage pending_remote        # python -> thread through C_SET_REMOTE
    socklen_t pending_remote_len
    sockaddr_storage pending_remote_rtcp
    socklen_t pending_remote_rtcp_len
    char _pad_py2[64]
    # ---- thread: addresses
    sockaddr_storage remote
    socklen_t remote_len
    sockaddr_storage remote_rtcp
    socklen_t remote_rtcp_len
    int32_t slot                 # sub-slot of the period
    int32_t slot_pos             # position in that sub-slot's member list
    # latching
    sockaddr_storage cand
    socklen_t cand_len
    int32_t cand_count
    uint16_t cand_seq
    int64_t cand_first_ns
    # ---- inbound configuration
    int32_t clock_rate           # audio rate of the jitter buffer and outbound frames (Hz)
    int32_t rtp_clock            # RTP timestamp rate (Hz): 8000 for G.722, 48000 for Opus
    int32_t out_rate
    int32_t frame_out            # nominal samples per delivered frame
    int64_t start_ns             # session start (EV_READY)
    # ---- outbound (python writes the ring and the marks; the thread the rest)
    Seg seg[N_SEG]               # mark ring (rate switches, response ends)
    vc_u64 end_done              # thread's count of responses finished
    int32_t cur_rate
    PyObject* cur_rs
    int16_t* stage               # clock-rate samples waiting to be sent
    int16_t* tmp                 # source-rate scratch
    int32_t tmp_cap
    int32_t codec                # OC_*
    PyObject* enc                # G722Encoder / OpusEncoder for OC_G722 / OC_OPUS
    int32_t pkt_cap              # bytes at pkt (room for SRTP's tag)
    int32_t pt
    int32_t dtmf_pt              # -1: none
    int32_t cn_pt                # RFC 3389 payload type for F_IDLE_CN
    int64_t next_idle_ns         # next comfort-noise packet while idle
    uint32_t ssrc
    uint16_t seq
    uint32_t ts_base             # RTP timestamp of tick 0
    int64_t end_token
    uint64_t resp_samples        # samples sent in the current response
    uint8_t* pkt                 # outbound packet buffer (12 + payload)
    # DTMF out
    DtmfOut dq[N_DTMF_OUT]
    int32_t dq_head
    int32_t dt_code
    int32_t dt_volume
    uint32_t dt_ts
    int32_t dt_total             # duration in ts units
    int32_t dt_elapsed
    int32_t dt_end_sent
    # AEC reference (thread writes, any consumer reads per the ring's rules)
    vc_aec* aec
    # RTCP
    double rtcp_interval_s       # 0 = off
    uint32_t rr_lsr              # middle 32 bits of the peer's last SR NTP time
    int64_t rr_lsr_arrival_ns
    uint64_t rtp_packets_at_rtcp
    char cname[64]
    uint32_t rng
    # statistics (thread writes)
    SessStats st

cdef struct Hist:
    uint64_t n
    uint64_t max
    uint64_t sum
    uint64_t b[HIST_BUCKETS]

cdef struct CoreStats:
    uint64_t ticks
    uint64_t ticks_late          # more than one sub-slot late
    uint64_t ticks_caught_up     # missed sub-slots processed late
    uint64_t ticks_skipped       # missed sub-slots dropped (more than MAX_CATCHUP behind)
    uint64_t wakeups             # eventfd writes to the loop
    uint64_t epoll_wakeups
    uint64_t datagrams
    uint64_t frame_overflow      # frames dropped (oldest) because python lagged
    uint64_t played_overflow
    uint64_t event_overflow
    uint64_t commands
    uint64_t errors
    uint64_t sessions
    uint64_t page_faults         # of the I/O thread since it started (minor + major; read every 250 ms)

cdef struct Core:
    # ---- immutable after start
    int32_t period_ns_ms         # period in ms (20)
    int64_t period_ns
    int32_t nslots
    int64_t slot_ns
    int32_t max_sessions
    int32_t max_catchup
    int32_t rt_priority          # SCHED_FIFO priority asked for the thread (0: normal scheduling)
    int32_t rt_error             # 0 when it took, else the errno
    # ---- fds (python opens/closes)
    int epfd                     # timer, commands (and sockets when not read_on_tick)
    int sock_ep                  # sockets, polled once per tick when read_on_tick
    bint read_on_tick            # read sockets at ticks (coalesced) instead of on arrival
    int timer_fd
    int cmd_fd                   # eventfd: python -> thread
    int loop_fd                  # eventfd: thread -> python (add_reader)
    # ---- thread
    pthread_t thread
    bint thread_started
    vc_u64 running
    int64_t t0_ns                # deadline of tick 0
    int64_t faults_ns            # when the I/O thread last read its page-fault count
    uint64_t tick_no             # next sub-slot tick to run
    Sess** table                 # [max_sessions], python fills, thread reads
    int32_t* members             # [nslots * max_sessions]: session indices per sub-slot (thread)
    int32_t* nmembers            # [nslots]
    # ---- command queue (python producer under cmd_lock, thread consumer)
    pthread_mutex_t cmd_lock
    Cmd* cmds
    uint64_t cmd_mask
    vc_u64 cmd_w
    vc_u64 cmd_r
    # ---- event queue (thread producer, python consumer)
    Ev* evs
    uint64_t ev_mask
    vc_u64 ev_w
    vc_u64 ev_r
    # ---- frame queues (thread producer, python consumer)
    vc_fqueue* fq[MAX_QUEUES]
    int32_t fq_frame[MAX_QUEUES]
    int32_t nfq
    vc_fqueue* played            # sent frames for on_audio_played (MAX_FRAME/… clock-rate frames)
    vc_u64 armed                 # python armed the loop wake-up
    bint produced                # thread: something was queued this wake-up
    int32_t removing             # sessions whose EV_REMOVED is still to be posted
    # ---- statistics (thread writes)
    CoreStats st
    Hist lateness                # tick lateness (ns)
    Hist work                    # tick work time (ns)
    Hist send_late               # outbound packet lateness vs its scheduled time (ns)
    # ---- scratch (thread)
    uint8_t* rbuf                # RECV_BATCH * RECV_BUF
    uint8_t* pbuf                # RTCP build buffer (1500)
