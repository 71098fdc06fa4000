-- The weekly timetable, in the campus's local time, with effective dates,
-- and its one-off changes. Sessions are generated from it.
create table timetable_slots (
  id              uuid primary key,
  term_id         text not null references terms (id),
  campus_id       text not null references campuses (id),
  -- ISO weekday: 1 Monday … 7 Sunday.
  weekday         smallint not null check (weekday between 1 and 7),
  starts_at       time not null,
  ends_at         time not null,
  room_id         text references rooms (id),
  faculty_id      uuid references faculty (id),
  effective_from  date not null,
  effective_to    date,
  check (ends_at > starts_at),
  check (effective_to is null or effective_to >= effective_from)
);

create index timetable_slots_term on timetable_slots (term_id, weekday);

-- The groups a slot is for; several sections for a combined lecture, a sub-group for a lab batch.
create table timetable_slot_groups (
  slot_id      uuid not null references timetable_slots (id) on delete cascade,
  section_id   uuid not null references course_sections (id),
  subgroup_id  uuid references section_subgroups (id),
  primary key (slot_id, section_id)
);

-- One-off changes to one occurrence of a slot (rescheduled, cancelled,
-- substitute), or an extra class with no slot.
create table timetable_changes (
  id                     uuid primary key,
  kind                   text not null check (kind in ('rescheduled', 'cancelled', 'extra', 'substitute')),
  slot_id                uuid references timetable_slots (id) on delete cascade,
  -- The occurrence changed (the slot's date), for every kind but extra.
  on_date                date,
  -- The new time and place, for rescheduled and extra (local date and times).
  new_date               date,
  new_starts_at          time,
  new_ends_at            time,
  new_room_id            text references rooms (id),
  substitute_faculty_id  uuid references faculty (id),
  -- For an extra class: the section it is for.
  section_id             uuid references course_sections (id),
  reason                 text,
  created_by             text not null,
  created_at             timestamptz not null default now(),
  check ((kind = 'extra') = (slot_id is null))
);

create unique index timetable_changes_occurrence on timetable_changes (slot_id, on_date) where slot_id is not null;

-- Generated sessions remember the occurrence they came from, so that
-- generating again never duplicates.
alter table sessions add column slot_id uuid references timetable_slots (id);
alter table sessions add column slot_date date;
alter table sessions add column change_id uuid references timetable_changes (id);
create unique index sessions_occurrence on sessions (slot_id, slot_date) where slot_id is not null;
