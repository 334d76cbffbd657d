/* libopus behind a thin shim for opus.pyx.
 *
 * Built with libopus (meson found `opus`, -DVC_HAVE_OPUS=1): each vc_opus_*
 * call is the libopus call (the variadic opus_*_ctl requests wrapped in
 * typed functions, which Cython cannot express through the macros).
 * Built without it: the same functions exist and return OPUS_UNIMPLEMENTED,
 * so opus.pyx (and every module that cimports it) compiles and imports the
 * same way, and the Python constructors refuse with a clear message.
 */
#ifndef VOICECORE_VC_OPUS_H
#define VOICECORE_VC_OPUS_H

#include <stdint.h>

#if defined(VC_HAVE_OPUS) && VC_HAVE_OPUS
#include <opus.h>
#define VC_OPUS_AVAILABLE 1

static inline const char *vc_opus_version(void) { return opus_get_version_string(); }
static inline const char *vc_opus_strerror(int err) { return opus_strerror(err); }

static inline int vc_opus_decoder_size(void) { return opus_decoder_get_size(1); }
static inline int vc_opus_decoder_init(OpusDecoder *d, int32_t rate) { return opus_decoder_init(d, rate, 1); }
static inline int vc_opus_decode(OpusDecoder *d, const unsigned char *data, int32_t len,
                                 int16_t *pcm, int frame_size, int fec) {
    return opus_decode(d, data, len, pcm, frame_size, fec);
}
static inline int vc_opus_decoder_reset(OpusDecoder *d) { return opus_decoder_ctl(d, OPUS_RESET_STATE); }
static inline int vc_opus_packet_samples(const unsigned char *data, int32_t len, int32_t rate) {
    return opus_packet_get_nb_samples(data, len, rate);
}
static inline int vc_opus_packet_frames(const unsigned char *data, int32_t len) {
    return opus_packet_get_nb_frames(data, len);
}
static inline int vc_opus_packet_parse(const unsigned char *data, int32_t len,
                                       const unsigned char *frames[48], int16_t size[48]) {
    return opus_packet_parse(data, len, NULL, frames, size, NULL);
}

static inline int vc_opus_encoder_size(void) { return opus_encoder_get_size(1); }
static inline int vc_opus_encoder_init(OpusEncoder *e, int32_t rate, int application) {
    return opus_encoder_init(e, rate, 1, application);
}
static inline int32_t vc_opus_encode(OpusEncoder *e, const int16_t *pcm, int frame_size,
                                     unsigned char *out, int32_t max_bytes) {
    return opus_encode(e, pcm, frame_size, out, max_bytes);
}
static inline int vc_opus_encoder_reset(OpusEncoder *e) { return opus_encoder_ctl(e, OPUS_RESET_STATE); }
static inline int vc_opus_set_bitrate(OpusEncoder *e, int32_t v) { return opus_encoder_ctl(e, OPUS_SET_BITRATE(v)); }
static inline int vc_opus_set_complexity(OpusEncoder *e, int v) { return opus_encoder_ctl(e, OPUS_SET_COMPLEXITY(v)); }
static inline int vc_opus_set_inband_fec(OpusEncoder *e, int v) { return opus_encoder_ctl(e, OPUS_SET_INBAND_FEC(v)); }
static inline int vc_opus_set_loss_perc(OpusEncoder *e, int v) { return opus_encoder_ctl(e, OPUS_SET_PACKET_LOSS_PERC(v)); }
static inline int vc_opus_set_dtx(OpusEncoder *e, int v) { return opus_encoder_ctl(e, OPUS_SET_DTX(v)); }
static inline int vc_opus_set_vbr(OpusEncoder *e, int v) { return opus_encoder_ctl(e, OPUS_SET_VBR(v)); }
static inline int vc_opus_set_signal_voice(OpusEncoder *e) { return opus_encoder_ctl(e, OPUS_SET_SIGNAL(OPUS_SIGNAL_VOICE)); }
static inline int vc_opus_get_lookahead(OpusEncoder *e, int32_t *v) { return opus_encoder_ctl(e, OPUS_GET_LOOKAHEAD(v)); }

#else  /* built without libopus */
#define VC_OPUS_AVAILABLE 0
#define OPUS_OK 0
#define OPUS_BAD_ARG -1
#define OPUS_BUFFER_TOO_SMALL -2
#define OPUS_INTERNAL_ERROR -3
#define OPUS_INVALID_PACKET -4
#define OPUS_UNIMPLEMENTED -5
#define OPUS_INVALID_STATE -6
#define OPUS_ALLOC_FAIL -7
#define OPUS_APPLICATION_VOIP 2048
#define OPUS_APPLICATION_AUDIO 2049
#define OPUS_APPLICATION_RESTRICTED_LOWDELAY 2051
typedef struct OpusEncoder OpusEncoder;
typedef struct OpusDecoder OpusDecoder;

static inline const char *vc_opus_version(void) { return ""; }
static inline const char *vc_opus_strerror(int err) { (void)err; return "voicecore was built without libopus"; }
static inline int vc_opus_decoder_size(void) { return 0; }
static inline int vc_opus_decoder_init(OpusDecoder *d, int32_t rate) { (void)d; (void)rate; return OPUS_UNIMPLEMENTED; }
static inline int vc_opus_decode(OpusDecoder *d, const unsigned char *data, int32_t len,
                                 int16_t *pcm, int frame_size, int fec) {
    (void)d; (void)data; (void)len; (void)pcm; (void)frame_size; (void)fec; return OPUS_UNIMPLEMENTED;
}
static inline int vc_opus_decoder_reset(OpusDecoder *d) { (void)d; return OPUS_UNIMPLEMENTED; }
static inline int vc_opus_packet_samples(const unsigned char *data, int32_t len, int32_t rate) {
    (void)data; (void)len; (void)rate; return OPUS_UNIMPLEMENTED;
}
static inline int vc_opus_packet_frames(const unsigned char *data, int32_t len) {
    (void)data; (void)len; return OPUS_UNIMPLEMENTED;
}
static inline int vc_opus_packet_parse(const unsigned char *data, int32_t len,
                                       const unsigned char *frames[48], int16_t size[48]) {
    (void)data; (void)len; (void)frames; (void)size; return OPUS_UNIMPLEMENTED;
}
static inline int vc_opus_encoder_size(void) { return 0; }
static inline int vc_opus_encoder_init(OpusEncoder *e, int32_t rate, int application) {
    (void)e; (void)rate; (void)application; return OPUS_UNIMPLEMENTED;
}
static inline int32_t vc_opus_encode(OpusEncoder *e, const int16_t *pcm, int frame_size,
                                     unsigned char *out, int32_t max_bytes) {
    (void)e; (void)pcm; (void)frame_size; (void)out; (void)max_bytes; return OPUS_UNIMPLEMENTED;
}
static inline int vc_opus_encoder_reset(OpusEncoder *e) { (void)e; return OPUS_UNIMPLEMENTED; }
static inline int vc_opus_set_bitrate(OpusEncoder *e, int32_t v) { (void)e; (void)v; return OPUS_UNIMPLEMENTED; }
static inline int vc_opus_set_complexity(OpusEncoder *e, int v) { (void)e; (void)v; return OPUS_UNIMPLEMENTED; }
static inline int vc_opus_set_inband_fec(OpusEncoder *e, int v) { (void)e; (void)v; return OPUS_UNIMPLEMENTED; }
static inline int vc_opus_set_loss_perc(OpusEncoder *e, int v) { (void)e; (void)v; return OPUS_UNIMPLEMENTED; }
static inline int vc_opus_set_dtx(OpusEncoder *e, int v) { (void)e; (void)v; return OPUS_UNIMPLEMENTED; }
static inline int vc_opus_set_vbr(OpusEncoder *e, int v) { (void)e; (void)v; return OPUS_UNIMPLEMENTED; }
static inline int vc_opus_set_signal_voice(OpusEncoder *e) { (void)e; return OPUS_UNIMPLEMENTED; }
static inline int vc_opus_get_lookahead(OpusEncoder *e, int32_t *v) { (void)e; *v = 0; return OPUS_UNIMPLEMENTED; }
#endif

#endif
