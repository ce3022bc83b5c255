"""Stage *validate* (loop step 2, validate): every staged row accepted, quarantined or counted as a duplicate.

Takes each received file as collect reads and stages it; gives the accepted feedback (personal
data redacted, text tagged) stored in the database, the quarantined rows (file, row, field, rule,
reason), a summary per file, GE Data Docs for the run, and the analyst's quarantine desk.
Modules, in reading order: suites (GE data contracts, with ge_memo), dedup, redaction_rules,
redaction_places (addresses), redaction_names (with redaction_fi_names), redaction,
ingest (one file, end to end), summary, datadocs, quarantine, step.
"""
