"""Voice catalog entries and dialogue turns used by the TTS API.

Mirrors ``roomkit.voice.voices`` (pydantic models there, keyword-only
dataclasses here).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

__all__ = ["DialogueTurn", "VoiceInfo", "check_dialogue", "dialogue_transcript", "filter_voices"]


@dataclass(kw_only=True)
class VoiceInfo:
    """One voice a provider offers; only ``id`` is guaranteed.

    Attributes:
        id: The identifier passed as ``voice=``.
        name: Display name.
        language: BCP-47 tag (``"en-US"``) or ``"multilingual"``.
        gender: ``"male"``, ``"female"`` or ``"neutral"``.
        accent: The accent the vendor names.
        description: Short characterization.
        deprecated: Whether the provider marks it deprecated.
        attributes: Other vendor-reported fields.
    """

    id: str
    name: str | None = None
    language: str | None = None
    gender: str | None = None
    accent: str | None = None
    description: str | None = None
    deprecated: bool = False
    attributes: dict[str, str] = field(default_factory=dict)


@dataclass(kw_only=True)
class DialogueTurn:
    """One line of a scripted dialogue: ``speaker`` keys the voices map."""

    speaker: str
    text: str
    style: str | None = None


def _language_matches(tag: str | None, wanted: str) -> bool:
    if not tag:
        return False
    tag = tag.lower()
    return tag == wanted or tag.startswith(wanted + "-")


def filter_voices(
    voices: Iterable[VoiceInfo],
    *,
    language: str | None = None,
    gender: str | None = None,
    query: str | None = None,
) -> list[VoiceInfo]:
    """The voices every given filter matches.

    ``language`` matches an equal tag or a tag starting with it and ``-``
    (``"fr"`` matches ``fr-CA``); ``gender`` matches exactly; ``query`` is a
    case-insensitive substring of the name or description. Case-insensitive.
    """
    lang = language.lower() if language else None
    gen = gender.lower() if gender else None
    needle = query.lower() if query else None
    out: list[VoiceInfo] = []
    for voice in voices:
        if lang and not _language_matches(voice.language, lang):
            continue
        if gen and (voice.gender or "").lower() != gen:
            continue
        if needle:
            haystack = f"{voice.name or ''}\n{voice.description or ''}".lower()
            if needle not in haystack:
                continue
        out.append(voice)
    return out


def check_dialogue(
    turns: Sequence[DialogueTurn],
    voices: Mapping[str, str],
    *,
    max_speakers: int,
    provider: str,
) -> list[str]:
    """Validate a dialogue before synthesis; return speakers in first-seen order.

    Raises:
        NotImplementedError: ``max_speakers`` is 0 (no dialogue support).
        ValueError: no turns, an unmapped speaker, or too many speakers.
    """
    if max_speakers <= 0:
        raise NotImplementedError(f"{provider} does not synthesize dialogue")
    if not turns:
        raise ValueError("a dialogue needs at least one turn")
    speakers: list[str] = []
    for turn in turns:
        if turn.speaker not in voices:
            raise ValueError(f"speaker {turn.speaker!r} has no voice in the voices map")
        if turn.speaker not in speakers:
            speakers.append(turn.speaker)
    if len(speakers) > max_speakers:
        raise ValueError(
            f"{provider} voices at most {max_speakers} speakers per dialogue, "
            f"these turns name {len(speakers)}"
        )
    return speakers


def dialogue_transcript(turns: Sequence[DialogueTurn]) -> str:
    """``"<speaker>: <text>"`` per turn, one per line."""
    return "\n".join(f"{t.speaker}: {t.text}" for t in turns)
