-- The audit log. Writers append rows inside the transaction of the change
-- they record; a single sealer later gives each row its place in the chain
-- (seq) and its hash, so writers never wait on one another.
-- See docs/security-audit.md for the chain and its canonical encoding.
create table audit_log (
  id          bigserial   primary key,
  at          timestamptz not null default now(),
  actor       text        not null,
  action      text        not null,
  target      text,
  before      jsonb,
  after       jsonb,
  reason      text,
  source      text        not null,
  request_id  text,
  ip          text,
  outcome     text        not null default 'success',
  seq         bigint      unique,
  prev_hash   bytea,
  hash        bytea,
  -- A row is either unsealed (all three null) or sealed (all three set).
  constraint audit_log_sealed_together check (
    (seq is null and prev_hash is null and hash is null)
    or (seq is not null and seq >= 1 and octet_length(prev_hash) = 32 and octet_length(hash) = 32)
  )
);

create index audit_log_unsealed on audit_log (id) where seq is null;
create index audit_log_action on audit_log (action, at);
create index audit_log_actor on audit_log (actor, at);

-- Append-only: new rows arrive unsealed; the only UPDATE allowed is the
-- sealer's one transition of seq, prev_hash and hash from null to values with
-- every other column unchanged; DELETE and TRUNCATE are refused. This binds the
-- table's owner too; only `alter table … disable trigger` (owner) or a
-- superuser's session_replication_role = replica gets past it.
create function audit_log_append_only() returns trigger
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
    raise exception 'audit_log is append-only: entry % may not be deleted', old.id
      using errcode = 'insufficient_privilege';
  end if;
  raise exception 'audit_log is append-only: % is not allowed', tg_op
    using errcode = 'insufficient_privilege';
end;
$$;

create trigger audit_log_append_only
  before insert or update or delete on audit_log
  for each row execute function audit_log_append_only();

create trigger audit_log_no_truncate
  before truncate on audit_log
  for each statement execute function audit_log_append_only();
