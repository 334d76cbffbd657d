#!/usr/bin/env bash
# cibuildwheel before-all (Linux manylinux / macOS): build libopus and libsrtp2
# as static, position-independent libraries into $PREFIX, so the wheel's opus
# and srtp modules link them in (nothing to bundle, no system library needed
# at run time). meson finds them through PKG_CONFIG_PATH=$PREFIX/lib/pkgconfig
# (set in pyproject's [tool.cibuildwheel] environment).
#
# libsrtp uses OpenSSL's libcrypto when a static one is available (AES-GCM
# and AES-NI speed); otherwise its internal crypto (no AEAD_AES_*_GCM suites:
# SRTPSession then refuses them with a clear error).
# Not verifiable in voicecore's own CI (no network there but PyPI/Debian):
# run by the GitHub wheels workflow only.
set -euo pipefail
PREFIX=${VOICECORE_CODEC_PREFIX:-/tmp/voicecore-codecs}
OPUS_VERSION=1.5.2
SRTP_VERSION=2.6.0
mkdir -p "$PREFIX/src" && cd "$PREFIX/src"
fetch() { curl -fsSL --retry 3 -o "$2" "$1"; }

fetch "https://downloads.xiph.org/releases/opus/opus-$OPUS_VERSION.tar.gz" opus.tar.gz
tar xzf opus.tar.gz
(cd "opus-$OPUS_VERSION" && CFLAGS="-O2 -fPIC" ./configure --prefix="$PREFIX" --disable-shared --enable-static \
   --disable-doc --disable-extra-programs && make -j"$(getconf _NPROCESSORS_ONLN)" && make install)

fetch "https://github.com/cisco/libsrtp/archive/refs/tags/v$SRTP_VERSION.tar.gz" srtp.tar.gz
tar xzf srtp.tar.gz
crypto=()
if [ -f /usr/lib64/libcrypto.a ] || [ -f /usr/lib/libcrypto.a ] || [ -f /usr/local/lib/libcrypto.a ] \
   || [ -n "${OPENSSL_ROOT:-}" ]; then
  crypto=(--enable-openssl ${OPENSSL_ROOT:+--with-openssl-dir="$OPENSSL_ROOT"})
fi
(cd "libsrtp-$SRTP_VERSION" && CFLAGS="-O2 -fPIC" ./configure --prefix="$PREFIX" "${crypto[@]}" \
   && make -j"$(getconf _NPROCESSORS_ONLN)" libsrtp2.a && make install)
rm -f "$PREFIX"/lib/*.so* "$PREFIX"/lib/*.dylib
echo "codec libraries in $PREFIX: $(ls "$PREFIX/lib")"
