# Runs first on every boot. Kept empty on purpose: main.py builds everything,
# so a broken app can never stop the REPL from coming up.
