# The device app: one asyncio state machine (states.Flow) with its I/O shell.
