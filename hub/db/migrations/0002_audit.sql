-- The audit log. Writers append rows inside the transaction of the change
-- they record; a single sealer later gives each row its place in the chain
-- (seq) and its hash, so writers never wait on one another.
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
  hash        bytea
);

create index audit_log_unsealed on audit_log (id) where seq is null;
create index audit_log_action on audit_log (action, at);
create index audit_log_actor on audit_log (actor, at);
