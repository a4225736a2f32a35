"""The scoring room: `barometer score` (a warehouse job) and the one scoring path the service uses.

- `job`: the edges (the day, its context and previous run, explain, store, export).
- `day_features`: the data's last event, the default day, that day's features (in memory).
- `incremental`: explanations in full or from the previous run's saved state.
- `scores`: explained rows + context in, one score row per entity out (probability, reasons,
  change, band, lift, actions); `score_now` for one entity on demand.
- `reasons`: the one place a score's reasons, changes and suggested actions are worded.
- `bands`: what high, medium and low mean for a run of one model.
- `history`: the `scores`, `score_runs` and `scoring_features_*` tables.
- `latest_features`: the latest run's feature rows, for on-demand scoring in the service.
- `exports`: CSV cells a spreadsheet cannot run.
"""
