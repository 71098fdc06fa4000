-- Door devices and fingerprint templates (docs/templates.md).

-- The devices registry: every door device an agent runs, registered by an
-- administrator. Its room is room_devices (0006); its live status and link
-- statistics come from its agent's health, its sync watermark from
-- device_watermarks (0009).
create table devices (
  campus_id      text not null references campuses (id),
  device_id      text not null,
  kind           text not null,
  name           text,
  serial         text,
  -- The agent that runs it, when known.
  agent_id       text,
  status         text not null default 'active' check (status in ('active', 'retired')),
  registered_by  text not null,
  registered_at  timestamptz not null,
  updated_at     timestamptz not null,
  primary key (campus_id, device_id)
);

-- Biometric consent, one row per student who ever answered. Biometrics are
-- opt-in: no row, or withdrawn, means no template is taken, kept or sent.
-- The history (who, when, why) is in the audit log (consent.*).
create table biometric_consents (
  student_id    uuid primary key references students (id),
  status        text not null check (status in ('granted', 'withdrawn')),
  granted_at    timestamptz,
  granted_by    text,
  withdrawn_at  timestamptz,
  withdrawn_by  text,
  -- After a withdrawal: when every agent confirmed its devices dropped the student's templates.
  removal_confirmed_at timestamptz,
  updated_at    timestamptz not null
);

-- One enrollment per student and finger. The template bytes are sealed under
-- the template's own data key (data_keys owner 'template:<id>'); deleting a
-- template clears sealed and destroys that key, so nothing can be decrypted
-- after, while the record of the enrollment stays.
create table templates (
  id              uuid primary key,
  student_id      uuid not null references students (id),
  finger          smallint not null check (finger between 0 and 9),
  format          text not null,
  quality         smallint check (quality between 0 and 100),
  sealed          bytea,
  source          text not null,
  enrolled_by     text not null,
  enrolled_at     timestamptz not null,
  deleted_at      timestamptz,
  deleted_reason  text,
  check ((sealed is null) = (deleted_at is not null))
);

create unique index templates_current on templates (student_id, finger) where deleted_at is null;
create index templates_student on templates (student_id, enrolled_at);

-- Which agent was sent which template, for which of its keys, and whether it
-- has since been told to remove it and confirmed that every device did.
create table template_deliveries (
  template_id     uuid not null references templates (id),
  campus_id       text not null,
  agent_id        text not null,
  -- The agent key the data key was wrapped for; a renewed key means a resend.
  recipient_kid   text not null,
  state           text not null check (state in ('stored', 'refused', 'remove_pending', 'removed')),
  detail          text,
  updated_at      timestamptz not null,
  primary key (template_id, agent_id)
);

create index template_deliveries_pending on template_deliveries (agent_id) where state = 'remove_pending';

-- Per device: is the template on it, as the agent last reported.
create table template_device_sync (
  template_id  uuid not null references templates (id),
  campus_id    text not null,
  device_id    text not null,
  agent_id     text not null,
  state        text not null check (state in ('present', 'failed', 'removed')),
  detail       text,
  updated_at   timestamptz not null,
  primary key (template_id, campus_id, device_id)
);
