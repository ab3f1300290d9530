"""Scale benchmark on real text with real vectors, beside LanceDB and Chroma.

    memoryspace bench scale --data ../shared/data --n 10000,100000 --out bench-out

``corpus`` builds the records (real passages of about 200 characters) and the questions;
``vectors`` keeps their MiniLM vectors on disk; ``ours`` and ``peers`` measure one system at one
size in a child process (``inputs`` is what that child reads); ``runner`` drives it all;
``disk`` breaks a SQLite file's bytes down; ``precision`` measures float16/int8 vector storage;
``plot`` draws the cost curve.
"""
