"""The virtual board (twin): a MicroPython VM behind a pty that tools treat as a real board."""
