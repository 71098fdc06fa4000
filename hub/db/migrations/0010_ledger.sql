-- The attendance ledger (docs/ledger.md). Every mark is an immutable event;
-- attendance_current is the projection of a record's events, kept in the
-- same transaction as each event by the one precedence rule of
-- hub/ledger/precedence.ts.

create table attendance_events (
  id            uuid primary key,
  session_id    uuid not null references sessions (id),
  student_id    uuid not null references students (id),
  status        text not null check (status in ('present', 'late', 'absent', 'excused', 'on_duty')),
  source        text not null check (source in ('manual', 'bulk', 'qr', 'biometric', 'card', 'leave', 'correction', 'automatic')),
  -- Who: a user id, or `system:<job>` for automatic marks; null for device taps.
  actor         text,
  -- Which door device, for taps that came through ingest.
  campus_id     text,
  device_id     text,
  -- The tap this event came from: unique, so a redelivered tap never marks twice.
  tap_event_id  uuid unique references events (id),
  device_time   timestamptz,
  received_at   timestamptz,
  -- When the hub recorded it (the hub's clock): the order of history and of "as of".
  recorded_at   timestamptz not null,
  reason        text,
  -- Exactly one of a person (or job) and a device did it.
  check ((actor is null) <> (device_id is null))
);

create index attendance_events_record on attendance_events (session_id, student_id, recorded_at, id);
create index attendance_events_student on attendance_events (student_id, recorded_at);

-- History is never overwritten: corrections are new events.
create function attendance_events_refuse_change() returns trigger language plpgsql as $$
begin
  raise exception 'attendance_events is append-only: % refused', tg_op using errcode = 'insufficient_privilege';
end
$$;

create trigger attendance_events_append_only before update or delete on attendance_events
  for each row execute function attendance_events_refuse_change();
create trigger attendance_events_no_truncate before truncate on attendance_events
  for each statement execute function attendance_events_refuse_change();

-- One row per (session, student) ever marked: the effective status and the
-- event that decided it. A row with a null status exists only inside the
-- transaction that creates it (it is the lock that serializes a record).
create table attendance_current (
  session_id  uuid not null references sessions (id),
  student_id  uuid not null references students (id),
  status      text,
  event_id    uuid references attendance_events (id),
  source      text,
  updated_at  timestamptz,
  primary key (session_id, student_id)
);

create index attendance_current_student on attendance_current (student_id, session_id);

-- Who belongs on a session's roll: enrolled in one of its groups (in the
-- sub-group, for a lab batch) on the session's local date.
create view session_roll as
select distinct s.id as session_id, en.student_id
  from sessions s
  join campuses c on c.id = s.campus_id
  join session_groups g on g.session_id = s.id
  join enrolments en on en.section_id = g.section_id and (g.subgroup_id is null or en.subgroup_id = g.subgroup_id)
  join students st on st.id = en.student_id
 where en.enrolled_on <= (s.starts_at at time zone c.timezone)::date
   and st.enrolment_date <= (s.starts_at at time zone c.timezone)::date
   and (en.dropped_on is null or en.dropped_on > (s.starts_at at time zone c.timezone)::date);

-- Taps that marked nobody, with the reason; never dropped.
create table unmatched_taps (
  event_id    uuid primary key references events (id),
  reason      text not null check (reason in ('unknown_device', 'unknown_student', 'not_enrolled', 'no_session', 'outside_window', 'duplicate')),
  details     jsonb not null default '{}',
  created_at  timestamptz not null,
  resolved_at timestamptz,
  resolution  text
);

create index unmatched_taps_reason on unmatched_taps (reason, created_at);
create index unmatched_taps_created on unmatched_taps (created_at, event_id);
