"""Benchmarks: ``python -m benchmarks {accuracy,auto,sampler,cmi,cmi-chain,decomposition,seeds,oracle,sentiment-ablation,sentiment-speed,large-data,distributed,threads,gpu,compare,compare-setup,validate,docs,mutation} [options]`` (``--help`` on each)."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    commands = {
        "accuracy": "benchmarks.accuracy",
        "auto": "benchmarks.auto",
        "sampler": "benchmarks.sampler_speed",
        "cmi": "benchmarks.cmi_accuracy",
        "cmi-chain": "benchmarks.cmi_chain",
        "decomposition": "benchmarks.decomposition",
        "seeds": "benchmarks.seeds",
        "oracle": "benchmarks.oracle",
        "sentiment-ablation": "benchmarks.sentiment_ablation",
        "sentiment-speed": "benchmarks.sentiment_speed",
        "large-data": "benchmarks.large_data",
        "distributed": "benchmarks.distributed",
        "threads": "benchmarks.threads",
        "gpu": "benchmarks.gpu",
        "compare": "benchmarks.compare.run",
        "compare-setup": "benchmarks.compare.envs",
        "validate": "benchmarks.validate",
        "docs": "benchmarks.docs",
        "mutation": "benchmarks.mutation",
    }
    if not argv or argv[0] not in commands:
        print(f"usage: python -m benchmarks {{{','.join(commands)}}} [options]", file=sys.stderr)
        return 2
    module = __import__(commands[argv[0]], fromlist=["main"])
    return int(module.main(argv[1:]) or 0)


if __name__ == "__main__":
    sys.exit(main())
