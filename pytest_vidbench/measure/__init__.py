"""Stage 1, measure: run each pipeline once per session and record what it cost.

Knows nothing of the gate, the store or the report: it turns models into samples.
"""
