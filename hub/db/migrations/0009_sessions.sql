-- Sessions at work: how they were finalized, the flags the scheduler raises,
-- the delivery watermarks agents report per door device, and the scheduler's
-- own bookkeeping.

-- A slot or a change that goes away keeps the sessions that already happened:
-- they lose the link, not their existence.
alter table sessions drop constraint sessions_slot_id_fkey;
alter table sessions add constraint sessions_slot_id_fkey foreign key (slot_id) references timetable_slots (id) on delete set null;
alter table sessions drop constraint sessions_change_id_fkey;
alter table sessions add constraint sessions_change_id_fkey foreign key (change_id) references timetable_changes (id) on delete set null;

-- An extra class is generated once from its change.
create unique index sessions_extra on sessions (change_id) where origin = 'extra';

-- Why a closed session stopped being provisional: every door device synced, or the wait timed out.
alter table sessions add column finalized_by text check (finalized_by in ('watermarks', 'timeout'));

create index sessions_provisional on sessions (ends_at) where state = 'closed' and finalized_at is null;

-- Things staff should look at: a session nobody marked (and its escalation
-- to the HOD), a session finalized without every device's data.
create table session_flags (
  id           uuid primary key,
  session_id   uuid not null references sessions (id) on delete cascade,
  kind         text not null check (kind in ('not_taken', 'escalated', 'finalize_timeout')),
  details      jsonb not null default '{}',
  created_at   timestamptz not null,
  resolved_at  timestamptz,
  unique (session_id, kind)
);

create index session_flags_open on session_flags (kind, created_at) where resolved_at is null;

-- "Every event of this door device up to up_to has been delivered", as the
-- campus agent reports it. Monotonic: it never moves backwards.
create table device_watermarks (
  campus_id    text not null,
  device_id    text not null,
  up_to        timestamptz not null,
  reported_at  timestamptz not null,
  primary key (campus_id, device_id)
);

-- When each scheduler job last ran, so that of several hubs on one database
-- exactly one runs each tick.
create table scheduler_jobs (
  name         text primary key,
  last_run_at  timestamptz not null
);
