-- The campus model: who studies and teaches what, where and when.
-- Codes are the natural keys a student information system knows; imports
-- upsert by them. Departments, programmes, batches, courses, terms, rooms and
-- campuses are keyed by their code; people, sections and sessions by uuid.

create table institutions (
  id    text primary key,
  name  text not null
);

create table campuses (
  id              text primary key,
  institution_id  text not null references institutions (id),
  name            text not null,
  -- Timetables are written in local time; sessions are stored in UTC.
  timezone        text not null default 'Asia/Kolkata'
);

create table departments (
  id         text primary key,
  campus_id  text not null references campuses (id),
  name       text not null
);

create table programmes (
  id             text primary key,
  department_id  text not null references departments (id),
  name           text not null
);

create table batches (
  id            text primary key,
  programme_id  text not null references programmes (id),
  name          text not null,
  start_year    integer not null
);

create table students (
  id               uuid primary key,
  roll_no          text not null unique,
  name             text not null,
  batch_id         text not null references batches (id),
  -- The class section of the batch (A, B, …), as the institution names it.
  section_label    text,
  enrolment_date   date not null,
  id_card_no       text unique,
  -- How door devices know the student: the user id on terminals, the code in a QR.
  device_user_id   text unique,
  user_id          uuid unique references users (id),
  status           text not null default 'active' check (status in ('active', 'inactive'))
);

create index students_batch on students (batch_id, id);

create table faculty (
  id             uuid primary key,
  employee_no    text not null unique,
  name           text not null,
  department_id  text not null references departments (id),
  user_id        uuid unique references users (id)
);

create table terms (
  id              text primary key,
  institution_id  text not null references institutions (id),
  name            text not null,
  starts_on       date not null,
  ends_on         date not null,
  check (ends_on >= starts_on)
);

-- Periods within a term: instruction, examinations, vacation.
create table academic_periods (
  id         uuid primary key,
  term_id    text not null references terms (id),
  kind       text not null check (kind in ('instruction', 'examination', 'vacation')),
  name       text not null,
  starts_on  date not null,
  ends_on    date not null,
  check (ends_on >= starts_on)
);

-- A holiday of the whole institution (campus_id null) or of one campus.
create table holidays (
  id         uuid primary key,
  campus_id  text references campuses (id),
  on_date    date not null,
  name       text not null
);

create unique index holidays_day on holidays (coalesce(campus_id, ''), on_date);

create table courses (
  id             text primary key,
  department_id  text not null references departments (id),
  name           text not null,
  credits        numeric(4, 1)
);

-- A course component taught to a group in one term, e.g. CS301 theory, section A.
create table course_sections (
  id             uuid primary key,
  code           text not null,
  term_id        text not null references terms (id),
  course_id      text not null references courses (id),
  component      text not null check (component in ('theory', 'tutorial', 'practical')),
  -- Denormalised from the course, because every HOD query is scoped by it.
  department_id  text not null references departments (id),
  unique (term_id, code)
);

create index course_sections_department on course_sections (department_id, id);

-- Lab batches and other sub-groups of a section.
create table section_subgroups (
  id          uuid primary key,
  section_id  uuid not null references course_sections (id) on delete cascade,
  code        text not null,
  unique (section_id, code)
);

create table section_teachers (
  section_id  uuid not null references course_sections (id) on delete cascade,
  faculty_id  uuid not null references faculty (id),
  role        text not null default 'teacher' check (role in ('teacher', 'assistant')),
  primary key (section_id, faculty_id)
);

create index section_teachers_faculty on section_teachers (faculty_id);

create table enrolments (
  section_id   uuid not null references course_sections (id) on delete cascade,
  student_id   uuid not null references students (id),
  subgroup_id  uuid references section_subgroups (id),
  enrolled_on  date not null,
  dropped_on   date,
  primary key (section_id, student_id)
);

create index enrolments_student on enrolments (student_id);

create table rooms (
  id         text primary key,
  campus_id  text not null references campuses (id),
  name       text not null,
  capacity   integer
);

-- Which door devices serve which room. A device is known by its campus and
-- its id on the agent, as in events.
create table room_devices (
  campus_id  text not null references campuses (id),
  device_id  text not null,
  room_id    text not null references rooms (id),
  primary key (campus_id, device_id)
);

create index room_devices_room on room_devices (room_id);

-- One concrete meeting. Generated from the timetable or made by hand; the
-- groups it is for are in session_groups (several for a combined lecture).
create table sessions (
  id                uuid primary key,
  term_id           text not null references terms (id),
  campus_id         text not null references campuses (id),
  starts_at         timestamptz not null,
  ends_at           timestamptz not null,
  room_id           text references rooms (id),
  -- Who takes it: the timetabled teacher or a substitute.
  faculty_id        uuid references faculty (id),
  state             text not null default 'scheduled' check (state in ('scheduled', 'open', 'closed', 'cancelled')),
  origin            text not null check (origin in ('timetable', 'manual', 'extra')),
  opened_at         timestamptz,
  closed_at         timestamptz,
  -- Closed sessions stay provisional until their devices synced or the wait timed out.
  finalized_at      timestamptz,
  cancelled_reason  text,
  created_at        timestamptz not null default now(),
  updated_at        timestamptz not null default now(),
  check (ends_at > starts_at)
);

create index sessions_starts on sessions (starts_at);
create index sessions_room_time on sessions (room_id, starts_at);
create index sessions_state on sessions (state, starts_at) where state in ('scheduled', 'open', 'closed');

create table session_groups (
  session_id   uuid not null references sessions (id) on delete cascade,
  section_id   uuid not null references course_sections (id),
  -- Only this sub-group of the section (a lab batch); null for the whole section.
  subgroup_id  uuid references section_subgroups (id),
  primary key (session_id, section_id)
);

create index session_groups_section on session_groups (section_id);
