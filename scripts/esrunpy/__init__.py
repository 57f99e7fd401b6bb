"""Python helpers behind scripts/sweep, scripts/tables and scripts/plot (Debian's python3 with
python3-yaml and python3-matplotlib). esrunpy.common needs only the standard library:
scripts/compare_policies.py and scripts/bench_sampling.py import it with any python3."""
