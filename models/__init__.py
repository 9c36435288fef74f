"""Tiny on-device models: data synthesis, training, export and the bit-exact reference."""
