# Runs first on every boot, soft resets included. It only keeps an armed
# watchdog fed (watchdog.py), so a tool that soft-resets the board keeps its
# REPL; everything else is main.py's, and nothing here may stop the REPL.
try:
    import watchdog
    watchdog.resume()
except Exception as e:  # noqa: BLE001
    print("boot.py: watchdog:", e)
