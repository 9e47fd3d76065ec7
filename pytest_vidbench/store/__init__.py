"""Stage 3, store: the files a run reads and writes, each validated, each written atomically."""
