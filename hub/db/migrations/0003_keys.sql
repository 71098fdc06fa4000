-- Encryption at rest. Each data key (DEK) is stored wrapped by a
-- key-encryption key (KEK) that never enters the database; kek_id names it.
-- owner is what the DEK encrypts: 'user:<id>' (personal fields),
-- 'secret:<name>' (hub secrets), 'template:<id>' (fingerprint templates).
-- Deleting a row destroys the data key (crypto-shredding).
create table data_keys (
  id            bigserial   primary key,
  owner         text        not null unique,
  kek_id        text        not null,
  wrapped       bytea       not null,
  created_at    timestamptz not null default now(),
  rewrapped_at  timestamptz
);

create index data_keys_kek on data_keys (kek_id);

-- The hub's own named secrets (CA key, token signing key), each sealed with
-- the data key of owner 'secret:<name>'.
create table hub_secrets (
  name        text        primary key,
  sealed      bytea       not null,
  updated_at  timestamptz not null default now()
);
