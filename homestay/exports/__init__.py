"""The grade lists: grade_list (which certificates, their columns and rows), writers (CSV, XLSX,
JSON, streamed), feed (where to read, and when the open data last changed), read_model (the
rows kept in buckets for bulk reading)."""
