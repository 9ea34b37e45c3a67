"""``python -m d2lrnn {train,generate,compare} ...``: see ``d2lrnn.cli``."""
from .cli import main

main()
