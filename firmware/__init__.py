# Lets the host import firmware modules that are shared (the link codec).
