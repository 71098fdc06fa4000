-- Taps committed by ingest and not yet matched to a session (docs/ledger.md,
-- "Matching taps"). Ingest adds a row in the transaction that stores the tap
-- and acknowledges the batch right after; the matcher takes rows with
-- SKIP LOCKED, writes the ledger or the unmatched reason, and deletes them in
-- one transaction. A crash in between leaves the row here for the next run.
create table match_queue (
  event_id  uuid primary key
);
