-- Taps as delivered by campus agents. The event id is made at the agent and is
-- the idempotency key: a redelivered event conflicts and is skipped.
create table events (
  id            uuid        primary key,
  campus_id     text        not null,
  agent_id      text        not null,
  device_id     text        not null,
  kind          text        not null,
  method        text        not null,
  subject       text        not null,
  device_time   timestamptz,
  received_at   timestamptz not null,
  ingested_at   timestamptz not null default now(),
  device_key    text,
  score         real
);

-- A device's own log record, re-read after an agent crash, must not be stored twice.
create unique index events_device_key on events (campus_id, device_id, device_key) where device_key is not null;
create index events_received_at on events (received_at);
create index events_subject on events (subject, id);
create index events_agent on events (agent_id, id);
create index events_device on events (device_id, id);

-- Agents seen by the hub, with their last status and health.
create table agents (
  agent_id      text        primary key,
  campus_id     text        not null,
  state         text        not null default 'unknown',
  state_since   timestamptz,
  version       text,
  health        jsonb,
  health_at     timestamptz,
  last_seen_at  timestamptz not null default now()
);

-- Commands sent to agents, with their results: the record of who asked for what.
create table agent_commands (
  transaction   uuid        primary key,
  agent_id      text        not null,
  op            text        not null,
  params        jsonb       not null,
  requested_by  text        not null,
  reason        text,
  requested_at  timestamptz not null default now(),
  status        text        not null default 'pending',
  result        jsonb,
  error         jsonb,
  completed_at  timestamptz
);
create index agent_commands_agent on agent_commands (agent_id, requested_at desc);
