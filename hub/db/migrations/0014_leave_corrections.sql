-- Leave and corrections (docs/leave.md, docs/corrections.md), and the
-- ledger's revocations (docs/ledger.md, "Revocation").

-- A revocation is a compensating event that names the event it withdraws;
-- an event is withdrawn at most once. The projection leaves both out.
alter table attendance_events add column revokes uuid unique references attendance_events (id);

-- Uploaded documents and evidence, by the SHA-256 of their bytes: stored in
-- the database (never under a web root, never executed), served only as
-- attachments.
create table evidence_blobs (
  sha256        text primary key check (sha256 ~ '^[0-9a-f]{64}$'),
  content_type  text not null,
  size_bytes    integer not null,
  content       bytea not null,
  created_at    timestamptz not null
);

-- Leave types are data: their effect on the register, whether a document is
-- needed, how long one leave may be, how many days a term allows, and who
-- approves, in order (`teacher`: a teacher of the student; `hod`: the
-- student's HOD).
create table leave_types (
  id                  text primary key check (id ~ '^[a-z][a-z0-9_]{1,39}$'),
  name                text not null,
  effect              text not null check (effect in ('counts_present', 'excluded', 'absent_excused')),
  documents_required  boolean not null,
  max_days            integer not null check (max_days > 0),
  term_cap_days       integer not null check (term_cap_days > 0),
  approval_chain      text[] not null,
  -- Faculty may apply it for a group of students (on duty: NCC, NSS, sports).
  faculty_may_apply   boolean not null,
  active              boolean not null default true,
  updated_at          timestamptz not null,
  check (cardinality(approval_chain) between 1 and 4 and approval_chain <@ array['teacher', 'hod']::text[])
);

insert into leave_types (id, name, effect, documents_required, max_days, term_cap_days, approval_chain, faculty_may_apply, updated_at) values
  ('medical', 'Medical leave', 'excluded', true, 15, 30, array['teacher', 'hod'], false, now()),
  ('personal', 'Personal leave', 'absent_excused', false, 3, 6, array['teacher'], false, now()),
  ('on_duty', 'On duty (NCC, NSS, sports)', 'counts_present', false, 10, 20, array['hod'], true, now()),
  ('institutional_event', 'Institutional event', 'counts_present', false, 5, 15, array['hod'], true, now()),
  ('other', 'Other', 'absent_excused', true, 5, 10, array['teacher', 'hod'], false, now());

create table leave_requests (
  id                 uuid primary key,
  type_id            text not null references leave_types (id),
  term_id            text not null references terms (id),
  -- Who applied: a user id (or `bootstrap`, the development admin token).
  applicant_user_id  text not null,
  -- Local dates of the students' campus, both included.
  from_date          date not null,
  to_date            date not null,
  -- Part of each day: only sessions that overlap this local time window; null for whole days.
  from_time          time,
  to_time            time,
  -- Only sessions of these courses; null for all.
  course_ids         text[],
  days               integer not null,
  reason             text not null,
  state              text not null check (state in ('pending', 'approved', 'rejected', 'withdrawn', 'revoked')),
  -- The type's chain when applied for, and how many of its steps have approved.
  approval_chain     text[] not null,
  approvals          integer not null default 0,
  created_at         timestamptz not null,
  updated_at         timestamptz not null,
  check (to_date >= from_date),
  check ((from_time is null) = (to_time is null) and (from_time is null or to_time > from_time))
);

create index leave_requests_state on leave_requests (state, created_at);

create table leave_request_students (
  leave_id    uuid not null references leave_requests (id),
  student_id  uuid not null references students (id),
  primary key (leave_id, student_id)
);

create index leave_request_students_student on leave_request_students (student_id, leave_id);

-- Every decision on a leave, in order.
create table leave_decisions (
  id        uuid primary key,
  leave_id  uuid not null references leave_requests (id),
  step      text,
  decision  text not null check (decision in ('approve', 'reject', 'withdraw', 'revoke')),
  actor     text not null,
  reason    text,
  at        timestamptz not null
);

create index leave_decisions_leave on leave_decisions (leave_id, at);

create table leave_documents (
  leave_id     uuid not null references leave_requests (id),
  sha256       text not null references evidence_blobs (sha256),
  filename     text not null,
  uploaded_by  text not null,
  created_at   timestamptz not null,
  primary key (leave_id, sha256)
);

-- Which ledger events project which leave: the projection's own bookkeeping,
-- so that a re-projection knows what is already there and what to revoke.
create table leave_events (
  event_id  uuid primary key references attendance_events (id),
  leave_id  uuid not null references leave_requests (id)
);

create index leave_events_leave on leave_events (leave_id);

-- A correction: a student's dispute of one mark, a teacher's correction of
-- their own session, or an incident covering every affected session.
create table corrections (
  id                  uuid primary key,
  kind                text not null check (kind in ('dispute', 'faculty', 'incident')),
  state               text not null check (state in ('pending', 'approved', 'rejected', 'withdrawn')),
  -- Who asked: a user id (or `bootstrap`).
  requested_by        text not null,
  department_id       text not null references departments (id),
  -- Who decides a pending one: the session's teachers, or the HOD.
  approver            text not null check (approver in ('teacher', 'hod')),
  reason_code         text,
  reason              text not null,
  -- An incident: the room and the local time it was down.
  room_id             text references rooms (id),
  incident_from       timestamptz,
  incident_to         timestamptz,
  created_at          timestamptz not null,
  due_at              timestamptz not null,
  escalated_at        timestamptz,
  decided_at          timestamptz,
  decided_by          text,
  decision_reason     text
);

create index corrections_pending on corrections (due_at) where state = 'pending';

create table correction_items (
  correction_id  uuid not null references corrections (id),
  session_id     uuid not null references sessions (id),
  student_id     uuid not null references students (id),
  status         text not null check (status in ('present', 'late', 'absent', 'excused', 'on_duty')),
  -- The status when requested, for the reviewer.
  status_before  text,
  -- The compensating ledger event, once approved.
  event_id       uuid references attendance_events (id),
  primary key (correction_id, session_id, student_id)
);

create index correction_items_session on correction_items (session_id, student_id);

create table correction_evidence (
  correction_id  uuid not null references corrections (id),
  sha256         text not null references evidence_blobs (sha256),
  filename       text not null,
  uploaded_by    text not null,
  created_at     timestamptz not null,
  primary key (correction_id, sha256)
);
