"""SDES-SRTP: RFC 4568 ``a=crypto`` key negotiation and RFC 3711 protection
of RTP and RTCP (SRTCP) through libsrtp2.

``parse_crypto(line)`` reads an ``a=crypto`` attribute (suite, inline key and
salt in base64, optional lifetime and MKI, session parameters);
``generate_crypto`` makes our own; ``answer_crypto(offered)`` picks the first
offered line we support and returns it with our answering line (same tag and
suite, fresh key). ``session_from_sdes(local, remote)`` builds the
:class:`SRTPSession` of a call: it protects with our key (the one in *our*
a=crypto line) and unprotects with the peer's.

Supported suites: ``AES_CM_128_HMAC_SHA1_80``, ``AES_CM_128_HMAC_SHA1_32``
(RFC 4568), ``AEAD_AES_128_GCM``, ``AEAD_AES_256_GCM`` (RFC 7714),
``AES_256_CM_HMAC_SHA1_80`` / ``_32`` (RFC 6188). Session parameters that
weaken protection (``UNENCRYPTED_SRTP``, ``UNENCRYPTED_SRTCP``,
``UNAUTHENTICATED_SRTP``) and a key derivation rate other than 0 (``KDR``)
are refused; ``WSH`` (window size hint) sets the replay window (at least
64); a line with several keys is refused (one key per direction).

libsrtp2 is optional at build time: without it ``AVAILABLE`` is False,
``UNAVAILABLE_REASON`` says why and ``SRTPSession`` raises
``SRTPUnavailableError``. Parsing and generating lines work either way.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field

try:
    from voicecore._native.media import srtp as _srtp
except ImportError as exc:  # pragma: no cover - a broken install
    raise ImportError(
        f"voicecore's native extension 'voicecore._native.media.srtp' could not be imported ({exc}). "
        "Install a voicecore wheel built for this platform, or build from source with a C compiler."
    ) from exc

SRTPSession = _srtp.SRTPSession
SRTPError = _srtp.SRTPError
SRTPUnavailableError = _srtp.SRTPUnavailableError

#: True when this voicecore was built with libsrtp2.
AVAILABLE: bool = _srtp.AVAILABLE
#: libsrtp version string ("" when unavailable).
VERSION: str = _srtp.VERSION
#: Why SRTP is unavailable, or None.
UNAVAILABLE_REASON: str | None = _srtp.UNAVAILABLE_REASON
#: Suite name -> master key + salt length (bytes).
SUITES: dict[str, int] = dict(_srtp.SUITES)
#: Bytes protect may add to a packet (tag, MKI, SRTCP index).
MAX_OVERHEAD: int = _srtp.MAX_OVERHEAD
#: Result code -> name (the nogil calls' negative codes; see srtp.pxd).
RESULTS: dict[int, str] = dict(_srtp.RESULTS)

__all__ = [
    "AVAILABLE",
    "CryptoAttribute",
    "MAX_OVERHEAD",
    "RESULTS",
    "SRTPError",
    "SRTPSession",
    "SRTPUnavailableError",
    "SUITES",
    "UNAVAILABLE_REASON",
    "VERSION",
    "answer_crypto",
    "generate_crypto",
    "parse_crypto",
    "require",
    "session_from_sdes",
]

_REFUSED_PARAMS = ("UNENCRYPTED_SRTP", "UNENCRYPTED_SRTCP", "UNAUTHENTICATED_SRTP")
_LINE = re.compile(r"^(?:a=)?crypto:(\d{1,9})\s+(\S+)\s+(\S+)((?:\s+\S+)*)\s*$")


def require(what: str = "SRTP") -> None:
    """Raise ``SRTPUnavailableError`` (naming ``what``) when this build has no
    libsrtp2; a backend calls it at connect when SRTP is negotiated."""
    if not AVAILABLE:
        raise SRTPUnavailableError(f"{what}: {UNAVAILABLE_REASON}")


@dataclass(frozen=True)
class CryptoAttribute:
    """One RFC 4568 ``a=crypto`` line.

    ``key``: master key followed by master salt (``SUITES[suite]`` bytes).
    ``lifetime``: packets the key may protect (None: the suite's default).
    ``mki`` / ``mki_length``: the master key identifier and its length in
    bytes on the wire (None: no MKI). ``session_params``: the rest.
    """

    tag: int
    suite: str
    key: bytes = field(repr=False)
    lifetime: int | None = None
    mki: int | None = None
    mki_length: int | None = None
    session_params: tuple[str, ...] = ()

    @property
    def mki_bytes(self) -> bytes | None:
        """The MKI as it appears in each packet (big-endian), or None."""
        if self.mki is None or self.mki_length is None:
            return None
        return self.mki.to_bytes(self.mki_length, "big")

    @property
    def replay_window(self) -> int:
        """Replay window (packets): the ``WSH`` hint, at least 64, default 128."""
        for p in self.session_params:
            if p.startswith("WSH="):
                return max(64, min(32768, int(p[4:])))
        return 128

    def to_sdp(self) -> str:
        """The attribute as an SDP line (``a=crypto:...``)."""
        info = base64.b64encode(self.key).decode("ascii")
        if self.lifetime is not None:
            n = self.lifetime.bit_length() - 1
            info += f"|2^{n}" if self.lifetime == 1 << n else f"|{self.lifetime}"
        if self.mki is not None:
            info += f"|{self.mki}:{self.mki_length}"
        params = "".join(" " + p for p in self.session_params)
        return f"a=crypto:{self.tag} {self.suite} inline:{info}{params}"


def parse_crypto(line: str) -> CryptoAttribute:
    """Parse an ``a=crypto`` line (with or without the ``a=`` prefix).

    Raises ValueError naming ``parse_crypto`` for a malformed line, an
    unsupported suite or key method, a key of the wrong length, several keys,
    or session parameters voicecore refuses (see the module docstring).
    """
    m = _LINE.match(line.strip())
    if m is None:
        raise ValueError(f"parse_crypto: not an RFC 4568 crypto attribute: {line!r}")
    tag, suite, key_params, rest = int(m.group(1)), m.group(2), m.group(3), m.group(4).split()
    if suite not in SUITES:
        raise ValueError(f"parse_crypto: unsupported crypto suite {suite!r} (supported: {', '.join(SUITES)})")
    if ";" in key_params:
        raise ValueError("parse_crypto: several keys in one crypto attribute are not supported")
    method, _, info = key_params.partition(":")
    if method != "inline" or not info:
        raise ValueError(f"parse_crypto: key method must be 'inline', got {key_params!r}")
    parts = info.split("|")
    if len(parts) > 3:
        raise ValueError(f"parse_crypto: malformed key info {info!r}")
    b64 = parts[0]
    try:
        key = base64.b64decode(b64 + "=" * (-len(b64) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"parse_crypto: key is not base64: {b64!r}") from None
    if len(key) != SUITES[suite]:
        raise ValueError(f"parse_crypto: {suite} needs a {SUITES[suite]}-byte key and salt, got {len(key)} bytes")
    lifetime = mki = mki_len = None
    for p in parts[1:]:
        if ":" in p:
            if mki is not None:
                raise ValueError(f"parse_crypto: two MKI fields in {info!r}")
            v, _, n = p.partition(":")
            if not (v.isdigit() and n.isdigit() and 1 <= int(n) <= 128 and int(v) < 1 << (8 * int(n))):
                raise ValueError(f"parse_crypto: malformed MKI {p!r} (value:length, length 1-128 bytes)")
            mki, mki_len = int(v), int(n)
        else:
            if lifetime is not None:
                raise ValueError(f"parse_crypto: two lifetimes in {info!r}")
            if p.startswith("2^") and p[2:].isdigit():
                lifetime = 1 << int(p[2:])
            elif p.isdigit():
                lifetime = int(p)
            else:
                raise ValueError(f"parse_crypto: malformed lifetime {p!r}")
    for p in rest:
        name = p.split("=", 1)[0]
        if name in _REFUSED_PARAMS:
            raise ValueError(f"parse_crypto: session parameter {name} is not supported (it weakens SRTP)")
        if name == "KDR" and p != "KDR=0":
            raise ValueError(f"parse_crypto: key derivation rate {p!r} is not supported (only KDR=0)")
        if name == "WSH" and not p[4:].isdigit():
            raise ValueError(f"parse_crypto: malformed window size hint {p!r}")
    return CryptoAttribute(tag, suite, key, lifetime, mki, mki_len, tuple(rest))


def generate_crypto(tag: int = 1, suite: str = "AES_CM_128_HMAC_SHA1_80") -> CryptoAttribute:
    """A new crypto attribute with a fresh random key (``secrets``)."""
    if suite not in SUITES:
        raise ValueError(f"generate_crypto: unsupported crypto suite {suite!r} (supported: {', '.join(SUITES)})")
    if not 0 <= tag < 10**9:
        raise ValueError(f"generate_crypto: tag must be 0-999999999, got {tag!r}")
    return CryptoAttribute(tag, suite, secrets.token_bytes(SUITES[suite]))


def answer_crypto(offered: Iterable[str], suites: Iterable[str] | None = None) -> tuple[CryptoAttribute, CryptoAttribute]:
    """Choose among the offered ``a=crypto`` lines (in the offer's order of
    preference) the first one we support and return ``(theirs, ours)``:
    ours has the same tag and suite and a fresh key. ``suites`` restricts
    what we accept (default: all of ``SUITES``). Lines we cannot use are
    skipped; ValueError when none is usable."""
    allowed = set(SUITES if suites is None else suites)
    reasons = []
    for line in offered:
        try:
            theirs = parse_crypto(line)
        except ValueError as exc:
            reasons.append(str(exc))
            continue
        if theirs.suite in allowed:
            return theirs, generate_crypto(theirs.tag, theirs.suite)
        reasons.append(f"suite {theirs.suite} not allowed")
    raise ValueError("answer_crypto: no usable crypto attribute offered" + (f" ({'; '.join(reasons)})" if reasons else ""))


def session_from_sdes(local: CryptoAttribute, remote: CryptoAttribute) -> SRTPSession:
    """The call's :class:`SRTPSession`: protect with ``local`` (our line),
    unprotect with ``remote`` (the peer's). Both must use the same suite."""
    if local.suite != remote.suite:
        raise ValueError(f"session_from_sdes: suites differ ({local.suite} vs {remote.suite})")
    return SRTPSession(local.suite, local.key, remote.key, local_mki=local.mki_bytes,
                       remote_mki=remote.mki_bytes, replay_window=remote.replay_window)
