"""`python -m app.analyzer`: compile the learned models to `.npz` (the image's build runs it).

Run it again after `make train-analyzer`; until then the retrained JSON is read instead.
"""

import sys

from app.analyzer.learned import compile_all

if __name__ == "__main__":
    for path in compile_all():
        sys.stdout.write(f"compiled {path.name}\n")
