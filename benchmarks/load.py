"""Load-test Ask the Author's /search API: `python benchmarks/load.py [--clients 20] [--questions 25]`.

Starts app.py on a free loopback port, runs the load, prints p50/p95 latency and throughput, stops the app.
The code lives in assistant/loadtest.py so the tests can run a smaller load the same way.
"""

import sys

from assistant.loadtest import main

if __name__ == "__main__":
    sys.exit(main())
