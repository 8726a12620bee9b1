"""The `caffeine` command line: one module per verb, dispatched by main.py."""
