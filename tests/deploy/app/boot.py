# Runs on every boot, before main.py.
import gc

gc.collect()
