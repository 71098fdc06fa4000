-- People and services that use the hub, and their credentials.
create table users (
  id                  uuid        primary key,
  username            text        not null,
  display_name        text        not null,
  role                text        not null check (role in ('admin', 'hod', 'faculty', 'student', 'service')),
  department_id       text,
  status              text        not null default 'active' check (status in ('active', 'disabled')),
  -- Who vouches for the person: 'local' (password here) now; an OIDC issuer later.
  identity_provider   text        not null default 'local',
  external_subject    text,
  -- PHC string (argon2id with its parameters); null for users who sign in elsewhere.
  password_hash       text,
  password_changed_at timestamptz,
  -- Raised by "log out everywhere"; access tokens carry the value they were issued under.
  session_epoch       integer     not null default 0,
  -- Personal fields, sealed under the user's data key (hub/keys).
  email_sealed        bytea,
  phone_sealed        bytea,
  guardian_sealed     bytea,
  created_at          timestamptz not null default now(),
  updated_at          timestamptz not null default now()
);

create unique index users_username on users (lower(username));
create unique index users_external on users (identity_provider, external_subject) where external_subject is not null;
create index users_department on users (department_id, id);

-- A refresh-token family is one sign-in: it has an absolute lifetime, and
-- every refresh hands out its next token. A token presented twice revokes it.
create table refresh_families (
  id              uuid        primary key,
  user_id         uuid        not null references users (id) on delete cascade,
  created_at      timestamptz not null,
  expires_at      timestamptz not null,
  revoked_at      timestamptz,
  revoked_reason  text,
  ip              text,
  user_agent      text
);

create index refresh_families_user on refresh_families (user_id) where revoked_at is null;

create table refresh_tokens (
  token_hash   bytea       primary key,
  family_id    uuid        not null references refresh_families (id) on delete cascade,
  issued_at    timestamptz not null,
  used_at      timestamptz
);

create index refresh_tokens_family on refresh_tokens (family_id);

-- Failed sign-ins, per account name (known or not) and per client address.
create table login_throttle (
  key             text        primary key,
  failures        integer     not null,
  window_start    timestamptz not null,
  last_failure_at timestamptz not null
);

-- Integration keys: only a hash is kept; the key itself is shown once.
create table api_keys (
  id           uuid        primary key,
  name         text        not null,
  key_hash     bytea       not null unique,
  prefix       text        not null,
  scopes       text[]      not null,
  created_by   text        not null,
  created_at   timestamptz not null default now(),
  expires_at   timestamptz,
  last_used_at timestamptz,
  revoked_at   timestamptz
);
