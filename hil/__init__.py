"""The hardware-in-the-loop bench: one pytest suite for real boards and their twins."""
