/* libsrtp2 behind a thin shim for srtp.pyx.
 *
 * Built with libsrtp2 (meson found `libsrtp2`, -DVC_HAVE_SRTP=1): the
 * functions below set up one direction of an SDES-keyed SRTP session (one
 * srtp_t with an "any inbound" or "any outbound" SSRC template) and run the
 * libsrtp2 calls in place. Built without it: the same functions exist and
 * fail with VC_SRTP_UNAVAILABLE, so srtp.pyx compiles and imports the same.
 *
 * Return values: 0 or a positive length on success, otherwise the negated
 * srtp_err_status_t (-7 auth_fail, -9 replay_fail, -10 replay_old, ...) or
 * one of voicecore's own codes below (-100 and lower).
 */
#ifndef VOICECORE_VC_SRTP_H
#define VOICECORE_VC_SRTP_H

#include <stdint.h>
#include <string.h>

/* Crypto suites (RFC 4568 names; values are voicecore's). */
#define VC_SRTP_AES_CM_128_HMAC_SHA1_80 1
#define VC_SRTP_AES_CM_128_HMAC_SHA1_32 2
#define VC_SRTP_AEAD_AES_128_GCM 3
#define VC_SRTP_AEAD_AES_256_GCM 4
#define VC_SRTP_AES_256_CM_HMAC_SHA1_80 5
#define VC_SRTP_AES_256_CM_HMAC_SHA1_32 6

#define VC_SRTP_E_TOO_SHORT (-100)   /* shorter than an RTP/RTCP header */
#define VC_SRTP_E_NO_ROOM (-101)     /* the buffer has no room for the trailer */
#define VC_SRTP_UNAVAILABLE (-102)   /* built without libsrtp2 */
/* Room protect needs past the packet: tag (16) + MKI (128 max) + SRTCP index (4). */
#define VC_SRTP_MAX_OVERHEAD 148

#if defined(VC_HAVE_SRTP) && VC_HAVE_SRTP
#include <srtp2/srtp.h>
#define VC_SRTP_AVAILABLE 1
typedef srtp_t vc_srtp_t;

static inline const char *vc_srtp_version(void) { return srtp_get_version_string(); }
static inline int vc_srtp_global_init(void) { return -(int)srtp_init(); }

/* Master key + salt length of a suite (bytes), or 0 for an unknown suite. */
static inline int vc_srtp_key_len(int suite) {
    switch (suite) {
    case VC_SRTP_AES_CM_128_HMAC_SHA1_80:
    case VC_SRTP_AES_CM_128_HMAC_SHA1_32: return SRTP_AES_ICM_128_KEY_LEN_WSALT;
    case VC_SRTP_AEAD_AES_128_GCM: return SRTP_AES_GCM_128_KEY_LEN_WSALT;
    case VC_SRTP_AEAD_AES_256_GCM: return SRTP_AES_GCM_256_KEY_LEN_WSALT;
    case VC_SRTP_AES_256_CM_HMAC_SHA1_80:
    case VC_SRTP_AES_256_CM_HMAC_SHA1_32: return SRTP_AES_ICM_256_KEY_LEN_WSALT;
    default: return 0;
    }
}

/* One direction: inbound (remote key, unprotect) or outbound (local key,
 * protect). mki/mki_len: the RFC 4568 MKI of that key (mki_len 0: none). */
static inline int vc_srtp_create(vc_srtp_t *out, int suite, const uint8_t *key, int key_len,
                                 const uint8_t *mki, int mki_len, int inbound,
                                 unsigned long window, int allow_repeat_tx) {
    srtp_policy_t p;
    srtp_master_key_t mk;
    srtp_master_key_t *mks[1];
    unsigned char keybuf[SRTP_MAX_KEY_LEN];
    unsigned char mkibuf[SRTP_MAX_MKI_LEN];
    int rc;
    *out = NULL;
    if (key_len != vc_srtp_key_len(suite) || key_len > SRTP_MAX_KEY_LEN || mki_len < 0 || mki_len > SRTP_MAX_MKI_LEN)
        return -(int)srtp_err_status_bad_param;
    memset(&p, 0, sizeof p);
    switch (suite) {
    case VC_SRTP_AES_CM_128_HMAC_SHA1_80:
        srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&p.rtp);
        srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&p.rtcp);
        break;
    case VC_SRTP_AES_CM_128_HMAC_SHA1_32:   /* SRTCP keeps the 80-bit tag (RFC 4568 6.2) */
        srtp_crypto_policy_set_aes_cm_128_hmac_sha1_32(&p.rtp);
        srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&p.rtcp);
        break;
    case VC_SRTP_AEAD_AES_128_GCM:
        srtp_crypto_policy_set_aes_gcm_128_16_auth(&p.rtp);
        srtp_crypto_policy_set_aes_gcm_128_16_auth(&p.rtcp);
        break;
    case VC_SRTP_AEAD_AES_256_GCM:
        srtp_crypto_policy_set_aes_gcm_256_16_auth(&p.rtp);
        srtp_crypto_policy_set_aes_gcm_256_16_auth(&p.rtcp);
        break;
    case VC_SRTP_AES_256_CM_HMAC_SHA1_80:
        srtp_crypto_policy_set_aes_cm_256_hmac_sha1_80(&p.rtp);
        srtp_crypto_policy_set_aes_cm_256_hmac_sha1_80(&p.rtcp);
        break;
    case VC_SRTP_AES_256_CM_HMAC_SHA1_32:
        srtp_crypto_policy_set_aes_cm_256_hmac_sha1_32(&p.rtp);
        srtp_crypto_policy_set_aes_cm_256_hmac_sha1_80(&p.rtcp);
        break;
    default:
        return -(int)srtp_err_status_bad_param;
    }
    memcpy(keybuf, key, (size_t)key_len);
    p.ssrc.type = inbound ? ssrc_any_inbound : ssrc_any_outbound;
    p.window_size = window;
    p.allow_repeat_tx = allow_repeat_tx;
    if (mki_len > 0) {
        memcpy(mkibuf, mki, (size_t)mki_len);
        mk.key = keybuf;
        mk.mki_id = mkibuf;
        mk.mki_size = (unsigned int)mki_len;
        mks[0] = &mk;
        p.keys = mks;
        p.num_master_keys = 1;
    } else {
        p.key = keybuf;
    }
    rc = (int)srtp_create(out, &p);
    memset(keybuf, 0, sizeof keybuf);   /* libsrtp keeps only the derived keys */
    if (rc != 0) {
        *out = NULL;
        return -rc;
    }
    return 0;
}

static inline void vc_srtp_free(vc_srtp_t s) { if (s) srtp_dealloc(s); }

static inline int vc_srtp_protect(vc_srtp_t s, uint8_t *buf, int len, int cap, int use_mki) {
    int rc;
    if (len < 12) return VC_SRTP_E_TOO_SHORT;
    if (cap - len < VC_SRTP_MAX_OVERHEAD) return VC_SRTP_E_NO_ROOM;
    rc = (int)srtp_protect_mki(s, buf, &len, (unsigned)use_mki, 0);
    return rc ? -rc : len;
}
static inline int vc_srtp_unprotect(vc_srtp_t s, uint8_t *buf, int len, int use_mki) {
    int rc;
    if (len < 12) return VC_SRTP_E_TOO_SHORT;
    rc = (int)srtp_unprotect_mki(s, buf, &len, (unsigned)use_mki);
    return rc ? -rc : len;
}
static inline int vc_srtp_protect_rtcp(vc_srtp_t s, uint8_t *buf, int len, int cap, int use_mki) {
    int rc;
    if (len < 8) return VC_SRTP_E_TOO_SHORT;
    if (cap - len < VC_SRTP_MAX_OVERHEAD) return VC_SRTP_E_NO_ROOM;
    rc = (int)srtp_protect_rtcp_mki(s, buf, &len, (unsigned)use_mki, 0);
    return rc ? -rc : len;
}
static inline int vc_srtp_unprotect_rtcp(vc_srtp_t s, uint8_t *buf, int len, int use_mki) {
    int rc;
    if (len < 8) return VC_SRTP_E_TOO_SHORT;
    rc = (int)srtp_unprotect_rtcp_mki(s, buf, &len, (unsigned)use_mki);
    return rc ? -rc : len;
}

#else  /* built without libsrtp2 */
#define VC_SRTP_AVAILABLE 0
typedef void *vc_srtp_t;
static inline const char *vc_srtp_version(void) { return ""; }
static inline int vc_srtp_global_init(void) { return VC_SRTP_UNAVAILABLE; }
static inline int vc_srtp_key_len(int suite) {
    switch (suite) {
    case VC_SRTP_AES_CM_128_HMAC_SHA1_80: case VC_SRTP_AES_CM_128_HMAC_SHA1_32: return 30;
    case VC_SRTP_AEAD_AES_128_GCM: return 28;
    case VC_SRTP_AEAD_AES_256_GCM: return 44;
    case VC_SRTP_AES_256_CM_HMAC_SHA1_80: case VC_SRTP_AES_256_CM_HMAC_SHA1_32: return 46;
    default: return 0;
    }
}
static inline int vc_srtp_create(vc_srtp_t *out, int suite, const uint8_t *key, int key_len,
                                 const uint8_t *mki, int mki_len, int inbound,
                                 unsigned long window, int allow_repeat_tx) {
    (void)suite; (void)key; (void)key_len; (void)mki; (void)mki_len; (void)inbound; (void)window;
    (void)allow_repeat_tx; *out = NULL; return VC_SRTP_UNAVAILABLE;
}
static inline void vc_srtp_free(vc_srtp_t s) { (void)s; }
static inline int vc_srtp_protect(vc_srtp_t s, uint8_t *b, int l, int c, int m) { (void)s; (void)b; (void)l; (void)c; (void)m; return VC_SRTP_UNAVAILABLE; }
static inline int vc_srtp_unprotect(vc_srtp_t s, uint8_t *b, int l, int m) { (void)s; (void)b; (void)l; (void)m; return VC_SRTP_UNAVAILABLE; }
static inline int vc_srtp_protect_rtcp(vc_srtp_t s, uint8_t *b, int l, int c, int m) { (void)s; (void)b; (void)l; (void)c; (void)m; return VC_SRTP_UNAVAILABLE; }
static inline int vc_srtp_unprotect_rtcp(vc_srtp_t s, uint8_t *b, int l, int m) { (void)s; (void)b; (void)l; (void)m; return VC_SRTP_UNAVAILABLE; }
#endif

#endif
