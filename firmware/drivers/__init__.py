# One driver per part. Each takes a bus (or a pin) built by main.py from the
# board definition, allocates its buffers once, and raises OSError naming the
# part and its address when the part does not answer.
