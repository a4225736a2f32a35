"""The scoring room: `barometer score` (a warehouse job) and the one scoring path the service uses.

- `job`: the edges (read features and context as of a date, score, store, export).
- `scores`: features + context in, one score row per entity out (probability, band, reasons).
- `reasons`: the one place a score's reasons are worded.
- `history`: the `scores` table, one row per entity per scoring run.
- `latest_features`: each entity's latest feature row, for on-demand scoring in the service.
"""
