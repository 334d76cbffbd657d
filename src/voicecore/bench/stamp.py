"""Send-schedule stamps carried inside the audio, for the lateness measurement.

The load generator puts two stamps in every 20 ms packet of a sampled call,
at samples 0 and 80, each 12 G.711 mu-law samples: a two-sample marker that
ordinary audio never contains (full scale +, full scale -), the call number
(3 digits of 6 bits), the packet number in the call (5 digits), which half of
the packet it starts (1 digit) and a check digit (weighted sum mod 61: any
one wrong digit shows). Any 20 ms cut of the stream holds at least one whole
stamp. G.711 decoding is exact for these codes, so the stamp survives the
trip through any receiver that decodes mu-law (voicecore's jitter buffer,
aiortp) and can be found in the frames the application gets, wherever the
receiver cut them (voicecore's jitter buffer plays a continuous timeline, so
a stamp may sit at any offset of a delivered frame; aiortp delivers packets
as they came, at offset 0).

With the generator's anchor for the call (the scheduled send time of one
packet number, taken from the engine's played-frame report and its clock
grid), a delivered frame whose first whole stamp marks stream sample ``n``
(packet * 160 + 0 or 80) at offset ``o`` gives the scheduled send time of the
audio at the frame's first sample:
``anchor_ns + (n - anchor_packet * 160 - o) * 125 us``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["FRAME", "STAMP_LEN", "decode", "stamped_packets", "stamp_codes", "tone"]

FRAME = 160                 # samples per 20 ms packet at 8 kHz
MARK = (0x80, 0x00)         # mu-law codes of +32124 and -32124
DIGIT0 = 0x90               # digit d is the code DIGIT0 + d (0 <= d < 64): positive, distinct levels
CALL_DIGITS, SEQ_DIGITS = 3, 5
DATA_DIGITS = CALL_DIGITS + SEQ_DIGITS + 1      # + which half of the packet
STAMP_LEN = 2 + DATA_DIGITS + 1
HALF = FRAME // 2
_WEIGHTS = np.arange(1, DATA_DIGITS + 1, dtype=np.int64)


def _digits(value: np.ndarray, n: int) -> np.ndarray:
    """Base-64 digits (most significant first) of each value: shape (len, n)."""
    shifts = 6 * np.arange(n - 1, -1, -1, dtype=np.int64)
    return (value[:, None] >> shifts[None, :]) & 63


def stamp_codes(call: int, first_packet: int, packets: int, half: int = 0) -> np.ndarray:
    """mu-law codes (uint8, shape (packets, STAMP_LEN)) of the stamps of
    packets ``first_packet ..`` of ``call`` (``half`` 1: the stamps at sample 80)."""
    k = np.arange(first_packet, first_packet + packets, dtype=np.int64)
    data = np.concatenate([_digits(np.full(packets, call, dtype=np.int64), CALL_DIGITS),
                           _digits(k, SEQ_DIGITS), np.full((packets, 1), half, dtype=np.int64)],
                          axis=1)  # fmt: skip
    check = (data * _WEIGHTS).sum(axis=1) % 61
    out = np.empty((packets, STAMP_LEN), dtype=np.uint8)
    out[:, 0], out[:, 1] = MARK
    out[:, 2:-1] = DIGIT0 + data
    out[:, -1] = DIGIT0 + check
    return out


def tone(seconds: float = 1.0, freq: float = 330.0, amplitude: int = 6000) -> np.ndarray:
    """A sine at 8 kHz (int16); 330 Hz fits a whole number of cycles in 1 s,
    so 1 s of it repeats without a click. Its level never reaches the marker."""
    t = np.arange(int(round(seconds * 8000))) / 8000.0
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.int16)


def stamped_packets(call: int, first_packet: int, packets: int, base: np.ndarray) -> np.ndarray:
    """``packets`` packets of ``base`` audio (int16, at least packets * FRAME
    samples) with the stamps of ``first_packet ..`` of ``call`` at samples 0
    and 80 of each."""
    from voicecore.codec import ulaw2lin

    pcm = base[: packets * FRAME].reshape(packets, FRAME).copy()
    for half in (0, 1):
        codes = stamp_codes(call, first_packet, packets, half)
        at = half * HALF
        pcm[:, at : at + STAMP_LEN] = np.frombuffer(ulaw2lin(codes.tobytes()), dtype=np.int16).reshape(
            packets, STAMP_LEN)
    return pcm.reshape(-1)


def decode(frames: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Find the first whole stamp in each frame (int16, shape (n, samples)).

    Returns ``(ok, call, sample, offset)``: per frame whether a valid stamp
    (marker, digits in range, check digit right) lies wholly inside it, and
    its call number, the stream sample it marks (packet * 160 + 0 or 80) and
    its offset in the frame, in samples."""
    from voicecore.codec import lin2ulaw

    frames = np.ascontiguousarray(frames, dtype=np.int16)
    n, width = frames.shape
    if n == 0 or width < STAMP_LEN:
        empty = np.zeros(0, dtype=np.int64)
        return np.zeros(n, dtype=bool), empty[:n], empty[:n], empty[:n]
    codes = np.frombuffer(lin2ulaw(frames.tobytes()), dtype=np.uint8).reshape(n, width)
    room = width - STAMP_LEN + 1
    hits = (codes[:, :room] == MARK[0]) & (codes[:, 1 : room + 1] == MARK[1])
    found = hits.any(axis=1)
    offset = hits.argmax(axis=1).astype(np.int64)
    cols = offset[:, None] + np.arange(2, STAMP_LEN)[None, :]
    digits = np.take_along_axis(codes, np.minimum(cols, width - 1), axis=1).astype(np.int64) - DIGIT0
    in_range = ((digits >= 0) & (digits < 64)).all(axis=1)
    data, check = digits[:, :-1], digits[:, -1]
    ok = found & in_range & ((data * _WEIGHTS).sum(axis=1) % 61 == check)
    ok &= data[:, -1] <= 1
    weights_call = 64 ** np.arange(CALL_DIGITS - 1, -1, -1, dtype=np.int64)
    weights_seq = 64 ** np.arange(SEQ_DIGITS - 1, -1, -1, dtype=np.int64)
    call = (data[:, :CALL_DIGITS] * weights_call).sum(axis=1)
    packet = (data[:, CALL_DIGITS:-1] * weights_seq).sum(axis=1)
    return ok, call, packet * FRAME + data[:, -1] * HALF, offset
