-- The audit log completed (docs/audit.md), the notification outbox
-- (docs/notifications.md) and versioned settings (docs/settings.md).

-- Retention may remove the oldest sealed entries, but only through
-- audit_purge(), which archives nothing itself (the retention job writes the
-- archive first), records the anchor the chain now starts from, and is
-- itself audited. The purge sets a transaction-local flag that the
-- append-only trigger checks; DELETE stays refused everywhere else.
create table audit_purges (
  -- The last seq removed: the chain now starts at up_to_seq + 1 and its prev_hash is anchor_hash.
  up_to_seq    bigint      primary key,
  anchor_hash  bytea       not null check (octet_length(anchor_hash) = 32),
  purged_at    timestamptz not null default now(),
  actor        text        not null,
  reason       text        not null,
  -- Where the removed entries were archived (a file name), for people.
  archive      text
);

create or replace function audit_log_append_only() returns trigger
language plpgsql as $$
begin
  if tg_op = 'INSERT' then
    if new.seq is not null or new.prev_hash is not null or new.hash is not null then
      raise exception 'audit_log is append-only: a new entry must arrive unsealed (seq, prev_hash and hash are set by the sealer)'
        using errcode = 'insufficient_privilege';
    end if;
    return new;
  elsif tg_op = 'UPDATE' then
    if old.seq is null and old.prev_hash is null and old.hash is null
       and new.seq is not null and new.prev_hash is not null and new.hash is not null
       and (new.id, new.at, new.actor, new.action, new.target, new.before, new.after, new.reason,
            new.source, new.request_id, new.ip, new.outcome)
           is not distinct from
           (old.id, old.at, old.actor, old.action, old.target, old.before, old.after, old.reason,
            old.source, old.request_id, old.ip, old.outcome) then
      return new;
    end if;
    raise exception 'audit_log is append-only: entry % may not be updated (only sealing an unsealed entry is allowed)', old.id
      using errcode = 'insufficient_privilege';
  elsif tg_op = 'DELETE' then
    if current_setting('campushub.audit_purge', true) = 'on' and old.seq is not null then
      return old;
    end if;
    raise exception 'audit_log is append-only: entry % may not be deleted', old.id
      using errcode = 'insufficient_privilege';
  end if;
  raise exception 'audit_log is append-only: % is not allowed', tg_op
    using errcode = 'insufficient_privilege';
end;
$$;

-- Removes the sealed entries up to and including seq `up_to`, which must be
-- sealed, records the anchor, and appends an `audit.purge` entry naming it.
-- SECURITY DEFINER: the application role may call it without holding DELETE.
create function audit_purge(up_to bigint, purge_actor text, purge_reason text, purge_archive text) returns bigint
language plpgsql security definer as $$
declare
  anchor bytea;
  removed bigint;
begin
  select hash into anchor from audit_log where seq = up_to;
  if anchor is null then
    raise exception 'audit_purge: seq % is not a sealed entry', up_to using errcode = 'invalid_parameter_value';
  end if;
  perform set_config('campushub.audit_purge', 'on', true);
  delete from audit_log where seq <= up_to;
  get diagnostics removed = row_count;
  perform set_config('campushub.audit_purge', 'off', true);
  insert into audit_purges (up_to_seq, anchor_hash, actor, reason, archive) values (up_to, anchor, purge_actor, purge_reason, purge_archive);
  insert into audit_log (actor, action, target, after, reason, source)
    values (purge_actor, 'audit.purge', 'audit-log:' || up_to,
            jsonb_build_object('upToSeq', up_to, 'anchorHash', encode(anchor, 'hex'), 'removed', removed, 'archive', purge_archive),
            purge_reason, 'system');
  return removed;
end;
$$;

-- The application's role in production: it inserts into audit_log and
-- attendance_events but may neither update (except the sealer's columns) nor
-- delete them. Migrations run as the owner; the hub connects as a login role
-- that is a member of campushub_app (docs/audit.md, "Database roles").
-- Roles are per cluster and creating one needs CREATEROLE: where the
-- migrating user lacks it, or another database on the cluster made it first,
-- this block leaves it be.
do $$
begin
  if not exists (select 1 from pg_roles where rolname = 'campushub_app') then
    create role campushub_app nologin;
  end if;
exception when insufficient_privilege or duplicate_object or unique_violation then
  raise notice 'campushub_app role not created here: %', sqlerrm;
end
$$;

do $$
begin
  if exists (select 1 from pg_roles where rolname = 'campushub_app') then
    execute 'grant usage on schema public to campushub_app';
    execute 'grant select, insert, update, delete on all tables in schema public to campushub_app';
    execute 'grant usage, select on all sequences in schema public to campushub_app';
    execute 'revoke update, delete, truncate on audit_log, attendance_events, audit_purges from campushub_app';
    execute 'grant update (seq, prev_hash, hash) on audit_log to campushub_app';
    execute 'alter default privileges in schema public grant select, insert, update, delete on tables to campushub_app';
    execute 'alter default privileges in schema public grant usage, select on sequences to campushub_app';
  end if;
exception when insufficient_privilege then
  raise notice 'campushub_app grants not applied: %', sqlerrm;
end
$$;

-- The transactional outbox: a rule writes a notification in the same
-- transaction as the change that raised it; the dispatcher delivers it later,
-- per channel, with retries. Nothing is lost across restarts because nothing
-- lives only in memory.
create table notifications (
  id            uuid        primary key,
  -- e.g. `absence.guardian`, `absence.consecutive`, `attendance.below_threshold`, `session.not_taken`.
  kind          text        not null,
  -- A user id, `guardian:<student id>`, or `webhook:<name>`.
  recipient     text        not null,
  -- Dedupe: one notification per (kind, recipient, dedupe_key).
  dedupe_key    text        not null,
  title         text        not null,
  body          jsonb       not null,
  created_at    timestamptz not null,
  -- Set when the recipient reads it in the in-app inbox.
  read_at       timestamptz,
  unique (kind, recipient, dedupe_key)
);
create index notifications_inbox on notifications (recipient, created_at, id);

-- A user's choices: kinds they do not want by email, and quiet hours (minutes
-- of the day in their time zone) during which email waits. The in-app inbox
-- always gets everything.
create table notification_preferences (
  user_id      uuid        primary key references users (id),
  email        boolean     not null default true,
  muted_kinds  text[]      not null default '{}',
  quiet_from   smallint    check (quiet_from between 0 and 1439),
  quiet_to     smallint    check (quiet_to between 0 and 1439),
  time_zone    text        not null default 'UTC',
  updated_at   timestamptz not null,
  check ((quiet_from is null) = (quiet_to is null))
);

-- One row per notification and channel: what the dispatcher still has to do.
create table notification_deliveries (
  notification_id uuid        not null references notifications (id),
  channel         text        not null check (channel in ('webhook', 'email')),
  -- The webhook's configured name, or the user id whose email address is looked up when sending.
  destination     text        not null,
  state           text        not null default 'pending' check (state in ('pending', 'delivered', 'failed', 'suppressed')),
  attempts        integer     not null default 0,
  next_attempt_at timestamptz not null,
  last_error      text,
  delivered_at    timestamptz,
  primary key (notification_id, channel, destination)
);
create index notification_deliveries_due on notification_deliveries (next_attempt_at) where state = 'pending';

-- The delivery ledger: every attempt, kept so the institution can prove when a warning went out.
create table notification_attempts (
  notification_id uuid        not null,
  channel         text        not null,
  destination     text        not null,
  attempt         integer     not null,
  at              timestamptz not null,
  outcome         text        not null check (outcome in ('delivered', 'retry', 'failed')),
  detail          text,
  primary key (notification_id, channel, destination, attempt)
);

-- Versioned settings (docs/settings.md). A change is a new row, never an
-- update: the row with the latest effective_from at or before a moment, at
-- the most specific scope that has one, is the value then. A null value
-- clears the scope's own value from effective_from on, so it inherits again.
create table settings_versions (
  id              uuid        primary key,
  scope_kind      text        not null check (scope_kind in ('institution', 'campus', 'department', 'section')),
  scope_id        text        not null,
  key             text        not null,
  value           jsonb,
  effective_from  timestamptz not null,
  created_at      timestamptz not null,
  actor           text        not null,
  reason          text        not null
);
create index settings_versions_lookup on settings_versions (key, scope_kind, scope_id, effective_from desc, created_at desc);
