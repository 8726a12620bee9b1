"""Print the README's layer table (type, module, CPU, GPU) from caffeine.layer_types().

    python tools/layer_table.py
A test checks that README.md contains exactly this table.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def layer_table():
    from caffeine.layers import CATALOG, layer_types
    rows = ["| type | module | CPU | GPU |", "|---|---|---|---|"]
    for name, status in layer_types().items():
        gpu = "CUDA kernel" if status["gpu"] else "host fallback (logged once)"
        rows.append(f"| {name} | `caffeine/layers/{CATALOG[name]}.py` | {'yes' if status['cpu'] else 'no'} | {gpu} |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(layer_table())
