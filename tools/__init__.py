"""Tools for boards: virtual boards, flashing and deploying."""
