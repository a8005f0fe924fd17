"""Helpers of scripts/bench_rpc.py: JSON-RPC client, node processes, workload, load and profiling."""
