"""Relay modes: which kind of OpenAI request a path carries (relaymode in the reference)."""

from __future__ import annotations

from enum import IntEnum


class Mode(IntEnum):
    CHAT = 1
    COMPLETIONS = 2
    EMBEDDINGS = 3
    MODERATIONS = 4
    IMAGES = 5
    EDITS = 6
    AUDIO_SPEECH = 7
    AUDIO_TRANSCRIPTION = 8
    AUDIO_TRANSLATION = 9

    @property
    def is_text(self) -> bool:
        return self in TEXT_MODES

    @property
    def is_audio(self) -> bool:
        return self in (Mode.AUDIO_SPEECH, Mode.AUDIO_TRANSCRIPTION, Mode.AUDIO_TRANSLATION)


TEXT_MODES = frozenset({Mode.CHAT, Mode.COMPLETIONS, Mode.EMBEDDINGS, Mode.MODERATIONS,
                        Mode.EDITS})

# Model used for routing when the body names none (spec 3.2 step 6).
DEFAULT_MODEL = {
    Mode.MODERATIONS: "text-moderation-stable",
    Mode.IMAGES: "dall-e-2",
    Mode.AUDIO_TRANSCRIPTION: "whisper-1",
    Mode.AUDIO_TRANSLATION: "whisper-1",
}
