"""Python helpers behind scripts/sweep, scripts/tables and scripts/plot (Debian's python3 with
python3-yaml and python3-matplotlib)."""
