-- Agent identity (hub/pki/). The CA's private key is not here: it is a
-- sealed secret (hub/keys/), only its certificate is.
create table pki_ca (
  id              int         primary key default 1 check (id = 1),
  certificate_pem text        not null,
  fingerprint     text        not null,
  created_at      timestamptz not null default now()
);

-- One-time enrollment tokens. Only the SHA-256 of a token is stored.
create table pki_enrollment_tokens (
  id          uuid        primary key,
  token_hash  bytea       not null unique,
  campus_id   text        not null,
  -- When set, the token enrolls only this agent id.
  agent_id    text,
  expires_at  timestamptz not null,
  used_at     timestamptz,
  used_by     text,
  created_by  text        not null,
  created_at  timestamptz not null default now()
);

-- Every certificate the CA issued: agents, the hub's own MQTT identity and broker servers.
create table pki_certificates (
  serial          text        primary key,
  -- Issue order, for keyset pagination.
  seq             bigserial   not null unique,
  kind            text        not null check (kind in ('agent', 'hub', 'server')),
  agent_id        text,
  campus_id       text,
  common_name     text        not null,
  not_before      timestamptz not null,
  not_after       timestamptz not null,
  fingerprint     text        not null unique,
  certificate_pem text        not null,
  enrollment_token_id uuid    references pki_enrollment_tokens (id),
  renewed_from    text        references pki_certificates (serial),
  issued_at       timestamptz not null default now(),
  revoked_at      timestamptz,
  revoked_by      text,
  revoke_reason   text
);

create index pki_certificates_agent on pki_certificates (campus_id, agent_id, issued_at);
create index pki_certificates_revoked on pki_certificates (not_after) where revoked_at is not null;
