"""Host side: the bridge daemon, speech, agents and device tools."""
