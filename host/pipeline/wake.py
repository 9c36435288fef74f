"""The wake phrase in what the recogniser hears.

With push-to-talk users say "hey pocket, ..." anyway, and a commands model that
never saw those words turns the whole utterance into dictation. So the model
learns the phrase in front of half its sentences (the other half stay as they
are, for audio that starts after a wake word), and the phrase is taken off the
transcript before the agent reads it.
"""

WAKE_PHRASE = "hey pocket"


def strip_wake(text, phrase=WAKE_PHRASE):
    """The request without a leading wake phrase ("hey pocket what time is it" -> "what time is it")."""
    words, wake = text.split(), (phrase or "").split()
    if wake and words[:len(wake)] == wake:
        return " ".join(words[len(wake):])
    return text


def command_sentences(phrase=WAKE_PHRASE):
    """The commands model's training text: the grammar's sentences, every other one after the wake phrase."""
    from pocket_agent.host.agent.grammar import grammar
    from pocket_agent.host.speech.sphinx import SENTENCES_PER_TEMPLATE

    base = grammar().sentences(per_template=SENTENCES_PER_TEMPLATE)
    if not phrase:
        return base
    return [f"{phrase} {s}" if i % 2 == 0 else s for i, s in enumerate(base)]
