"""Stage 2, gate: judge this run's records against the baseline history.

Pure statistics (stats.py) and one rule per kind of measure; judge.py applies them to a run.
Knows nothing of how files are stored or how reports look.
"""
