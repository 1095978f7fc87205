"""Performance harness (`make bench` = `python -m benchmarks`): each benchmark times our implementation against a
plain baseline in the same process on the same inputs and prints throughput and the ratio."""
