-- The agent flags a tap whose device clock was more than 5 minutes off
-- (docs/agent.md, "Clocks"). The device time is kept as the device stamped it;
-- the flag says not to trust it alone.
alter table events add column clock_suspect boolean not null default false;
